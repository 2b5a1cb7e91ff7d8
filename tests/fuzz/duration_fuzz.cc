// Fuzzes the duration parsers (command-line and profile forms) against their properties: a
// result is never negative and never past Go's limit; the profile form's result is exactly
// what the command-line form gives for the same text; an error always says what is accepted.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto flag = km::parseFlagDuration(text);
  if (flag) {
    if (flag->count() < 0 || flag->count() > INT64_MAX / 1000000000) std::abort();
  } else if (flag.error().message().empty()) {
    std::abort();
  }
  auto field = km::parseDuration(text);
  // Every profile-form duration that fits Go's limit is a command-line duration too, equal.
  if (field && flag && field->count() != flag->count()) std::abort();
  return 0;
}
