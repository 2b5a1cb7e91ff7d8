// Which implementation serves a substrate kind.
#include "substrate/substrate.h"

#include "substrate/local/local.h"

namespace km::substrate {

Result<std::unique_ptr<Substrate>> open(plan::Substrate kind, Options options) {
  if (kind != plan::Substrate::kLocal) {
    return unavailable("substrate " + std::string(plan::substrateName(kind)) +
                       " cannot run sandboxes in this build (only local can)");
  }
  return local::makeSubstrate(std::move(options));
}

std::unique_ptr<Substrate> openDefault(Options options) { return local::makeSubstrate(std::move(options)); }

bool isHelperProcess(int argc, char** argv) { return local::isSpawnedInit(argc, argv); }

void helperMain() { local::spawnedInitMain(); }

}  // namespace km::substrate
