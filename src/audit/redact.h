// km::audit::Redactor — takes secrets out of text before an audit record is written: the
// built-in patterns (cloud and AI provider keys, tokens, private key blocks, passwords in URLs
// and in assignments or flags) and literal values (the profile's secret-looking environment
// values, masked values and their sentinels). Every secret becomes "[REDACTED]"; the name it
// was assigned to, a URL's user and a scheme word stay, so a record still says what it was.
//
// Patterns are compiled once per process (PCRE2, JIT where available). A Redactor is
// immutable once made and thread-safe to use from any number of threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace km::audit {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// Literal values shorter than this are not redacted by value (a short value would blank out
// common words); the patterns still catch them in assignments.
inline constexpr size_t kMinLiteralSecret = 6;

class Redactor {
 public:
  // The built-in patterns, and `literals` (shorter ones, and duplicates, are ignored).
  explicit Redactor(std::vector<std::string> literals = {});
  ~Redactor();
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;

  // Replaces every secret in `text`; returns how many were replaced. Never fails: a pattern
  // whose match runs over its work limit (crafted input) leaves the rest of that text to
  // the others and to the literals.
  size_t redact(std::string& text) const;
  // A command line, argument by argument, and the argument after one that names a secret
  // ("--token VALUE", "--api-key VALUE", "aws_secret_access_key VALUE"): it is replaced
  // whole. Returns how many were replaced.
  size_t redactArgv(std::vector<std::string>& argv) const;
  // A copy of `text`, redacted.
  std::string redacted(std::string_view text) const;

  size_t literalCount() const { return literals_.size(); }

 private:
  std::vector<std::string> literals_;  // longest first, so one inside another never splits it
};

// Whether an environment variable's name says its value is a secret (…TOKEN, …SECRET…,
// …PASSWORD, …API_KEY, …ACCESS_KEY…, …PRIVATE_KEY, …CREDENTIALS): its value is then
// redacted by value wherever it shows up.
bool secretLookingName(std::string_view name);

}  // namespace km::audit
