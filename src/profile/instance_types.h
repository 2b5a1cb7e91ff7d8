// What the semantic rules need of the instance types km knows offline (private to profile;
// instanceShape, in profile.h, is the public lookup). Pure lookups, thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "profile/profile.h"

namespace km::profile {

// RAM in whole GiB, rounded up (t3.nano's 0.5 GiB counts as 1); nullopt when unknown. Used by
// the hibernation rule (the root volume must hold RAM).
std::optional<int> instanceRamGiB(std::string_view instance_type);

}  // namespace km::profile
