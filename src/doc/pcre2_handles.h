// Owners of PCRE2's objects (8-bit code units), for the modules that use PCRE2 directly: the
// doc module's patterns and the audit's redactor. Includes <pcre2.h>; include it only where
// PCRE2 is called (its link library is the includer's).
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

namespace km::doc {

struct Pcre2CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct Pcre2MatchDataFree {
  void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
};
struct Pcre2MatchContextFree {
  void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
};
using Pcre2Code = std::unique_ptr<pcre2_code, Pcre2CodeFree>;
using Pcre2MatchData = std::unique_ptr<pcre2_match_data, Pcre2MatchDataFree>;
using Pcre2MatchContext = std::unique_ptr<pcre2_match_context, Pcre2MatchContextFree>;

}  // namespace km::doc
