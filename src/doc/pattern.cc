#include "doc/pattern.h"

#include "doc/pcre2_handles.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/check.h"

namespace km::doc {
namespace {

// Far above what any of km's patterns needs for the longest value it is given
// (kMaxPatternInput), far below a noticeable pause.
constexpr uint32_t kMatchLimit = 200'000;
constexpr uint32_t kDepthLimit = 10'000;

Pcre2Code compile(std::string_view pattern) {
  pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
  KM_CHECK(cc != nullptr) << "out of memory";
  // CR and LF both end a line, so `.` matches neither (ECMAScript's `.`).
  pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C, &err, &offset, cc);
  pcre2_compile_context_free(cc);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    KM_CHECK(false) << "pattern " << pattern << " does not compile at " << offset << ": "
                    << reinterpret_cast<const char*>(msg);
  }
  return Pcre2Code(code);
}

pcre2_match_context* matchContext() {
  static const Pcre2MatchContext ctx = [] {
    Pcre2MatchContext c(pcre2_match_context_create(nullptr));
    KM_CHECK(c != nullptr) << "out of memory";
    pcre2_set_match_limit(c.get(), kMatchLimit);
    pcre2_set_depth_limit(c.get(), kDepthLimit);
    return c;
  }();
  return ctx.get();
}

const pcre2_code* compiled(std::string_view pattern) {
  static std::mutex mu;
  static std::map<std::string, Pcre2Code, std::less<>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(pattern);
  if (it == cache.end()) it = cache.emplace(std::string(pattern), compile(pattern)).first;
  return it->second.get();
}

}  // namespace

bool patternSearch(std::string_view pattern, std::string_view text) {
  const pcre2_code* code = compiled(pattern);
  Pcre2MatchData md(pcre2_match_data_create_from_pattern(code, nullptr));
  KM_CHECK(md != nullptr) << "out of memory";
  const char* subject = text.empty() ? "" : text.data();
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject), text.size(), 0, 0, md.get(),
                       matchContext());
  return rc >= 0;
}

}  // namespace km::doc
