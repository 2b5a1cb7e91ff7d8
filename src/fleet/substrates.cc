#include "fleet/substrates.h"

#include <string>

namespace km::fleet::detail {

substrate::Options substrateOptions(const Env& env) { return {.km_home = env.km_home, .disk = env.disk}; }

Result<std::unique_ptr<substrate::Substrate>> substrateNamed(const Env& env, std::string_view name) {
  auto kind = plan::parseSubstrate(name);
  if (!kind) return invalidArgument("'" + std::string(name) + "' is not a substrate (local, docker, ec2, ecs)");
  return substrate::open(*kind, substrateOptions(env));
}

std::unique_ptr<substrate::Substrate> homeSubstrate(const Env& env) {
  return substrate::openDefault(substrateOptions(env));
}

}  // namespace km::fleet::detail

namespace km::fleet {

Result<substrate::SandboxFiles> sandboxFiles(const Env& env, const store::SandboxRecord& record) {
  auto where = detail::substrateNamed(env, record.substrate);
  if (!where) return std::move(where).error().context(record.id);
  return (*where)->files(record.id);
}

}  // namespace km::fleet
