// The exec audit's ring buffer records (bpf/exec_shared.h) as audit records. Pure; private to
// audit (exec_audit.cc reads the ring, tests and the fuzz target feed bytes directly).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "audit/audit.h"

namespace km::audit {

// One record of `size` bytes as the kernel queued it. `wall_minus_monotonic_ns` turns the
// programs' CLOCK_MONOTONIC into wall time. nullopt for a record too short for its header or
// its declared lengths, or of an unknown kind (never from km's programs; counted by the caller).
std::optional<Record> execEventRecord(const void* data, size_t size, int64_t wall_minus_monotonic_ns);

}  // namespace km::audit
