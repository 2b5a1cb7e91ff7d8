// Sandbox identity: ids ({prefix}-{8 hex}) drawn from the kernel's random source, and the
// user-chosen alias, which shares the DNS-label shape so it can name a host.
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/random.h"
#include "core/strings.h"
#include "plan/compile_steps.h"
#include "plan/plan.h"

namespace km::plan {

std::string newSandboxId(std::string_view prefix) { return std::string(prefix) + "-" + randomHex(4); }

Status checkAlias(std::string_view alias) {
  bool ok = !alias.empty() && alias.size() <= 63 && alias[0] >= 'a' && alias[0] <= 'z';
  for (char c : alias) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (ok) return {};
  return invalidArgument("--alias " + quoted(alias) +
                         ": an alias is a lowercase letter followed by up to 62 lowercase letters, digits "
                         "or hyphens (^[a-z][a-z0-9-]{0,62}$)");
}

}  // namespace km::plan
