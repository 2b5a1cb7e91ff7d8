// Sizes of the EC2 instance types km knows offline (private to profile). Used by the
// hibernation rule (the root volume must hold RAM) and, later, to turn an instance type into
// cpu and memory limits on the local substrate. Pure lookups, thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace km::profile {

struct InstanceShape {
  int vcpus = 0;
  int memory_mib = 0;  // MiB, so t3.nano's 0.5 GiB is exact
};

// The shape of a t2/t3/t3a/t4g (nano … 2xlarge), m5 (large … 8xlarge), c5 (large … 9xlarge)
// or r5 (large … 4xlarge) instance type; nullopt for any other type (callers fail open).
std::optional<InstanceShape> instanceShape(std::string_view instance_type);

// RAM in whole GiB, rounded up (t3.nano's 0.5 GiB counts as 1); nullopt when unknown.
std::optional<int> instanceRamGiB(std::string_view instance_type);

}  // namespace km::profile
