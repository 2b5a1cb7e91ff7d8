// km::store — action quotas (spec.limits): how many outbound actions of each kind (github_pr,
// github_comment, …) a sandbox made, per lifetime, clock hour and UTC day, and the freeze that
// refuses them all (a breach with onBreach: freeze, or `km freeze`; `km unlock` lifts it).
// Each take judges and counts in one write transaction, so parallel requests of one sandbox
// (or several supervisors' and the CLI's) never overshoot a limit. One object per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace km::store {

// A limit of one action kind; -1 = none in that window. on_breach: warn | block | freeze.
struct ActionLimit {
  int64_t lifetime = -1, per_hour = -1, per_day = -1;
  std::string on_breach = "warn";
};

// What a take decided.
struct ActionTake {
  bool allowed = true;    // the action may go out (and was counted)
  bool breached = false;  // a limit was passed (with warn the action still goes out)
  bool froze = false;     // this take froze the sandbox's actions
  std::string reason;     // the limit passed or the freeze, as a user reads it ("" when fine)
  int64_t lifetime = 0, hour = 0, day = 0;  // the counts after the take
};

struct ActionCount {
  std::string action;
  int64_t lifetime = 0, hour = 0, day = 0;  // hour and day: the current ones
};

struct ActionFreeze {
  std::string reason;
  int64_t at_ms = 0;
};

class ActionQuotas {
 public:
  virtual ~ActionQuotas() = default;
  // One `action` of the sandbox at `now_ms`: refused while frozen; else counted, unless it
  // passes `limit` with block or freeze (freeze also freezes the sandbox).
  [[nodiscard]] virtual Result<ActionTake> take(std::string_view sandbox_id, std::string_view action,
                                                const ActionLimit& limit, int64_t now_ms) = 0;
  // Freezes (or re-freezes with a new reason) the sandbox's actions; lifts the freeze.
  [[nodiscard]] virtual Status freeze(std::string_view sandbox_id, std::string_view reason, int64_t now_ms) = 0;
  // Whether a freeze was lifted.
  [[nodiscard]] virtual Result<bool> unfreeze(std::string_view sandbox_id) = 0;
  [[nodiscard]] virtual Result<std::optional<ActionFreeze>> frozen(std::string_view sandbox_id) = 0;
  // The sandbox's counts at `now_ms`, by action name.
  [[nodiscard]] virtual Result<std::vector<ActionCount>> counts(std::string_view sandbox_id, int64_t now_ms) = 0;
  // Forgets the sandbox's counts and freeze (it is destroyed).
  [[nodiscard]] virtual Status forget(std::string_view sandbox_id) = 0;
};

// Opens the fleet database at `path` (as openSqlite does: created and migrated when needed).
[[nodiscard]] Result<std::unique_ptr<ActionQuotas>> openSqliteActionQuotas(const std::string& path);

}  // namespace km::store
