// libFuzzer target for the audit codec's decoder (km logs --network reads lines a sandbox
// helped write). Properties besides "no crash, no UB, no leak":
//   * a line that decodes re-encodes to ASCII, one line, that decodes again;
//   * encoding is then stable: encode(decode(encode(r))) == encode(r).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "audit/audit.h"

namespace audit = km::audit;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto r = audit::decode(line);
  if (!r) return 0;
  std::string once = audit::encode(*r);
  require(!once.empty() && once.back() == '\n' && once.find('\n') == once.size() - 1);
  for (char ch : once) require(static_cast<unsigned char>(ch) < 0x80);
  auto again = audit::decode(once);
  require(static_cast<bool>(again));
  require(audit::encode(*again) == once);
  return 0;
}
