// Diagnostics: every problem found in a document, with where it is and how to fix it.
// Loaders collect all of them instead of stopping at the first. Not thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "doc/node.h"

namespace km::doc {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string file;
  uint32_t line = 0;    // 0 when unknown
  uint32_t column = 0;
  std::string path;     // field path, e.g. spec.network.egress.allowedHosts[2]; may be empty
  std::string message;  // what is wrong and what would fix it

  bool isError() const { return severity == Severity::kError; }
  // "file:line:col: path: message" (parts that are unknown are left out).
  std::string format() const;
};

class Diagnostics {
 public:
  void error(const Mark& at, std::string path, std::string message);
  void warning(const Mark& at, std::string path, std::string message);
  void add(Diagnostic d);

  const std::vector<Diagnostic>& all() const { return items_; }
  bool hasErrors() const;
  size_t errorCount() const;
  size_t warningCount() const;
  void append(const Diagnostics& other);

 private:
  std::vector<Diagnostic> items_;
};

// Joins a parent path and a field name: ("spec", "network") → "spec.network"; keys that are
// not plain identifiers are written as ["key"].
std::string childPath(std::string_view parent, std::string_view key);
std::string indexPath(std::string_view parent, size_t index);

}  // namespace km::doc
