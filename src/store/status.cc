// Text forms of SandboxStatus (what `km list` prints and the database stores) and the clock.
#include <chrono>

#include "core/clock.h"
#include "store/store.h"

namespace km::store {
namespace {

struct StatusName {
  SandboxStatus status;
  std::string_view name;
};

// The names are stored in the database: renaming one needs a schema migration.
constexpr StatusName kStatusNames[] = {
    {SandboxStatus::kCreating, "creating"}, {SandboxStatus::kRunning, "running"},
    {SandboxStatus::kPaused, "paused"},     {SandboxStatus::kStopped, "stopped"},
    {SandboxStatus::kFailed, "failed"},     {SandboxStatus::kDestroying, "destroying"},
};

}  // namespace

std::string_view statusName(SandboxStatus s) {
  for (const auto& entry : kStatusNames) {
    if (entry.status == s) return entry.name;
  }
  return "unknown";  // only reachable through a cast of an out-of-range integer
}

std::optional<SandboxStatus> parseStatus(std::string_view text) {
  for (const auto& entry : kStatusNames) {
    if (entry.name == text) return entry.status;
  }
  return std::nullopt;
}

int64_t nowMs() { return systemClock().nowMs(); }

}  // namespace km::store
