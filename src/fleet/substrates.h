// Which substrate a fleet operation talks to (private to fleet).
#pragma once

#include <memory>
#include <string_view>

#include "core/result.h"
#include "fleet/fleet.h"
#include "substrate/substrate.h"

namespace km::fleet::detail {

substrate::Options substrateOptions(const Env& env);
// The substrate a sandbox runs on, by the name its row records (local | docker | ec2 | ecs).
// InvalidArgument for a name no build knows; Unavailable for one this build cannot run.
[[nodiscard]] Result<std::unique_ptr<substrate::Substrate>> substrateNamed(const Env& env, std::string_view name);
// The substrate of commands that concern the home rather than one sandbox's row (doctor's
// scan, exec by id before the plan is read): the default one.
std::unique_ptr<substrate::Substrate> homeSubstrate(const Env& env);

}  // namespace km::fleet::detail
