// Regular expressions for km's own string rules: the `pattern` of a described field (also
// written into the JSON Schema) and a few checks in the profile rules. PCRE2 underneath:
// compiling a pattern costs microseconds (libstdc++'s std::regex took about 3 ms of every
// `km create` for the profile's patterns, in locale lookups for each bracket expression),
// and matching runs on the heap under a work limit, so no input can exhaust the stack.
#pragma once

#include <string_view>

namespace km::doc {

// Whether `text` contains a match of `pattern`, searched as JSON Schema's `pattern` is (not
// anchored unless the pattern anchors). Patterns are km's own constants in the subset that
// ECMAScript and PCRE2 read alike; as in ECMAScript, `$` matches only at the very end and
// `.` matches neither CR nor LF. Each is compiled once per process and a pattern that does
// not compile is a bug (KM_CHECK). Matching bytes, not UTF-8 characters. A match that
// exceeds the work limit counts as no match (the value is refused, never let through).
bool patternSearch(std::string_view pattern, std::string_view text);

}  // namespace km::doc
