// libFuzzer target for the exec audit's reader: the ring buffer's records as the supervisor
// decodes them (their argv, file and directory bytes come from the sandbox), redacted and
// encoded as the command log writes them. Properties besides "no crash, no UB, no leak":
//   * a record that decodes encodes to one ASCII line that decodes again, stably;
//   * redaction is idempotent: redacting a redacted record changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "audit/audit.h"
#include "audit/exec_event.h"
#include "audit/redact.h"

namespace audit = km::audit;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const audit::Redactor redactor({"literal-secret-value"});
  auto r = audit::execEventRecord(data, size, 0);
  if (!r) return 0;
  audit::redact(*r, redactor);
  std::string once = audit::encode(*r);
  require(!once.empty() && once.back() == '\n' && once.find('\n') == once.size() - 1);
  for (char ch : once) require(static_cast<unsigned char>(ch) < 0x80);
  auto again = audit::decode(once);
  require(static_cast<bool>(again));
  require(audit::encode(*again) == once);
  require(audit::redact(*again, redactor) == 0);
  return 0;
}
