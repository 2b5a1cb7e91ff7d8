#include "profile/instance_types.h"

#include <array>

namespace km::profile {
namespace {

struct Entry {
  std::string_view name;
  InstanceShape shape;
};

constexpr int kGiB = 1024;

// Published AWS sizes. The burstable families share memory sizes; t2 has fewer vCPUs at the
// small end. Types outside this table are simply unknown: every caller must fail open.
constexpr std::array kInstances = {
    Entry{"t2.nano", {1, kGiB / 2}},     Entry{"t2.micro", {1, 1 * kGiB}},
    Entry{"t2.small", {1, 2 * kGiB}},    Entry{"t2.medium", {2, 4 * kGiB}},
    Entry{"t2.large", {2, 8 * kGiB}},    Entry{"t2.xlarge", {4, 16 * kGiB}},
    Entry{"t2.2xlarge", {8, 32 * kGiB}},
    Entry{"t3.nano", {2, kGiB / 2}},     Entry{"t3.micro", {2, 1 * kGiB}},
    Entry{"t3.small", {2, 2 * kGiB}},    Entry{"t3.medium", {2, 4 * kGiB}},
    Entry{"t3.large", {2, 8 * kGiB}},    Entry{"t3.xlarge", {4, 16 * kGiB}},
    Entry{"t3.2xlarge", {8, 32 * kGiB}},
    Entry{"t3a.nano", {2, kGiB / 2}},    Entry{"t3a.micro", {2, 1 * kGiB}},
    Entry{"t3a.small", {2, 2 * kGiB}},   Entry{"t3a.medium", {2, 4 * kGiB}},
    Entry{"t3a.large", {2, 8 * kGiB}},   Entry{"t3a.xlarge", {4, 16 * kGiB}},
    Entry{"t3a.2xlarge", {8, 32 * kGiB}},
    Entry{"t4g.nano", {2, kGiB / 2}},    Entry{"t4g.micro", {2, 1 * kGiB}},
    Entry{"t4g.small", {2, 2 * kGiB}},   Entry{"t4g.medium", {2, 4 * kGiB}},
    Entry{"t4g.large", {2, 8 * kGiB}},   Entry{"t4g.xlarge", {4, 16 * kGiB}},
    Entry{"t4g.2xlarge", {8, 32 * kGiB}},
    Entry{"m5.large", {2, 8 * kGiB}},    Entry{"m5.xlarge", {4, 16 * kGiB}},
    Entry{"m5.2xlarge", {8, 32 * kGiB}}, Entry{"m5.4xlarge", {16, 64 * kGiB}},
    Entry{"m5.8xlarge", {32, 128 * kGiB}},
    Entry{"c5.large", {2, 4 * kGiB}},    Entry{"c5.xlarge", {4, 8 * kGiB}},
    Entry{"c5.2xlarge", {8, 16 * kGiB}}, Entry{"c5.4xlarge", {16, 32 * kGiB}},
    Entry{"c5.9xlarge", {36, 72 * kGiB}},
    Entry{"r5.large", {2, 16 * kGiB}},   Entry{"r5.xlarge", {4, 32 * kGiB}},
    Entry{"r5.2xlarge", {8, 64 * kGiB}}, Entry{"r5.4xlarge", {16, 128 * kGiB}},
};

}  // namespace

std::optional<InstanceShape> instanceShape(std::string_view instance_type) {
  for (const Entry& e : kInstances) {
    if (e.name == instance_type) return e.shape;
  }
  return std::nullopt;
}

std::optional<int> instanceRamGiB(std::string_view instance_type) {
  auto shape = instanceShape(instance_type);
  if (!shape) return std::nullopt;
  return (shape->memory_mib + kGiB - 1) / kGiB;
}

}  // namespace km::profile
