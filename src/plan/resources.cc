// cpu, memory and pids for a sandbox. spec.runtime.resources (a km extension) overrides, field
// by field, what the instance type implies; an instance type km does not know gets modest
// defaults; nothing may exceed the host. `source` records which of these applied, because
// "why does my sandbox have 2 CPUs?" is the first question `km status` has to answer.
#include <limits>
#include <string>
#include <vector>

#include "core/strings.h"
#include "plan/compile_steps.h"
#include "profile/profile.h"

namespace km::plan {

Result<int64_t> parseMemoryBytes(std::string_view text) {
  struct Suffix {
    std::string_view name;
    int64_t factor;
  };
  static constexpr Suffix kSuffixes[] = {
      {"Ki", int64_t{1} << 10}, {"Mi", int64_t{1} << 20}, {"Gi", int64_t{1} << 30},
      {"Ti", int64_t{1} << 40}, {"K", 1'000},             {"M", 1'000'000},
      {"G", 1'000'000'000},     {"T", 1'000'000'000'000},
  };
  auto bad = [&] {
    return invalidArgument("\"" + std::string(text) +
                           "\" is not a memory size; write a whole number of bytes, optionally followed by "
                           "Ki, Mi, Gi, Ti (powers of 1024) or K, M, G, T (powers of 1000), like 512Mi");
  };
  std::string_view digits = text;
  int64_t factor = 1;
  for (const Suffix& s : kSuffixes) {
    if (endsWith(text, s.name)) {
      digits = text.substr(0, text.size() - s.name.size());
      factor = s.factor;
      break;
    }
  }
  if (digits.empty()) return bad();
  for (char c : digits)
    if (c < '0' || c > '9') return bad();
  auto too_large = [&] { return invalidArgument("memory \"" + std::string(text) + "\" is too large"); };
  int64_t n = 0;
  for (char c : digits) {
    if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return too_large();
    n = n * 10 + (c - '0');
  }
  if (n == 0) return invalidArgument("memory \"" + std::string(text) + "\" must be more than 0");
  if (n > std::numeric_limits<int64_t>::max() / factor) return too_large();
  return n * factor;
}

Result<Resources> resolveResources(const profile::Runtime& runtime, int host_cpus,
                                   int64_t host_memory_bytes) {
  // What the instance type implies, or the defaults.
  Resources r;
  std::string fallback;
  if (auto shape = profile::instanceShape(runtime.instance_type)) {
    r.cpu_millis = int64_t{shape->vcpus} * 1000;
    r.memory_bytes = int64_t{shape->memory_mib} << 20;
    fallback = "instanceType " + runtime.instance_type;
  } else {
    r.cpu_millis = kDefaultCpuMillis;
    r.memory_bytes = kDefaultMemoryBytes;
    fallback = runtime.instance_type.empty() ? "default (no instance type)"
                                             : "default (unknown instance type " + runtime.instance_type + ")";
  }
  r.pids = kDefaultPids;

  // Explicit overrides, each on its own.
  std::vector<std::string> overridden;
  bool cpu_and_memory_written = false;
  if (const auto& res = runtime.resources) {
    if (res->cpus) {
      if (res->cpus->millis <= 0) {
        return invalidArgument("spec.runtime.resources.cpus: must be more than 0");
      }
      r.cpu_millis = res->cpus->millis;
      overridden.push_back("cpus");
    }
    if (res->memory) {
      auto bytes = parseMemoryBytes(*res->memory);
      if (!bytes) return std::move(bytes).error().context("spec.runtime.resources.memory");
      r.memory_bytes = *bytes;
      overridden.push_back("memory");
    }
    if (res->pids) {
      if (*res->pids < 1) return invalidArgument("spec.runtime.resources.pids: must be at least 1");
      r.pids = *res->pids;
      overridden.push_back("pids");
    }
    cpu_and_memory_written = res->cpus && res->memory;
  }
  if (overridden.empty()) {
    r.source = fallback;
  } else if (cpu_and_memory_written) {
    r.source = "spec.runtime.resources";
  } else {
    r.source = "spec.runtime.resources (" + join(overridden, ", ") + "), " + fallback;
  }

  // A limit above what exists is no limit at all; say that it was lowered.
  bool clamped = false;
  if (host_cpus > 0 && r.cpu_millis > int64_t{host_cpus} * 1000) {
    r.cpu_millis = int64_t{host_cpus} * 1000;
    clamped = true;
  }
  if (host_memory_bytes > 0 && r.memory_bytes > host_memory_bytes) {
    r.memory_bytes = host_memory_bytes;
    clamped = true;
  }
  if (clamped) r.source += ", clamped to host";

  // Disk: resources.disk, else rootVolumeSize (GiB; 0 is "the image's default"), else 8 GiB.
  constexpr int64_t kGiB = int64_t{1} << 30;
  r.disk_bytes = kDefaultDiskBytes;
  r.disk_source = "default";
  if (runtime.root_volume_size && *runtime.root_volume_size > 0) {
    if (*runtime.root_volume_size > std::numeric_limits<int64_t>::max() / kGiB) {
      return invalidArgument("spec.runtime.rootVolumeSize: too large");
    }
    r.disk_bytes = *runtime.root_volume_size * kGiB;
    r.disk_source = "spec.runtime.rootVolumeSize";
  }
  if (runtime.resources && runtime.resources->disk) {
    auto bytes = parseMemoryBytes(*runtime.resources->disk);
    if (!bytes) return std::move(bytes).error().context("spec.runtime.resources.disk");
    r.disk_bytes = *bytes;
    r.disk_source = "spec.runtime.resources.disk";
  }
  if (const auto& v = runtime.additional_volume) {
    if (v->size < 1 || v->size > std::numeric_limits<int64_t>::max() / kGiB) {
      return invalidArgument("spec.runtime.additionalVolume.size: must be at least 1 (GiB)");
    }
    r.volume_mount = v->mount_point;
    r.volume_bytes = v->size * kGiB;
  }
  return r;
}

}  // namespace km::plan
