// km::store — the fleet store: which sandboxes exist, their state, deadlines and history.
// FleetStore is the interface (SQLite here; DynamoDB for fleets later); openSqlite() gives the
// embedded backend (WAL, versioned schema migrations). One FleetStore object per thread; any
// number of processes may use the same database at once (writes are serialised by SQLite
// transactions, readers never block writers).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace km::store {

// Where a sandbox is in its life. Text forms (statusName) are what `km list` prints and what
// the database stores.
enum class SandboxStatus {
  kCreating,    // row written, supervisor not ready yet
  kRunning,
  kPaused,      // frozen: processes kept in memory
  kStopped,     // no processes, files kept
  kFailed,      // create or supervisor failed; `failure` says why
  kDestroying,  // teardown in progress
};
std::string_view statusName(SandboxStatus s);
std::optional<SandboxStatus> parseStatus(std::string_view text);

// Times are Unix milliseconds (UTC); 0 means "not set".
struct SandboxRecord {
  std::string id;                      // {prefix}-{8 hex}
  std::optional<std::string> alias;    // unique among live sandboxes
  int number = 0;                      // local number (`#3`), assigned by insert
  std::string profile_name;            // what the user named (file or built-in)
  std::string profile_yaml;            // the resolved profile, as created
  std::string plan_json;               // the compiled SandboxPlan
  std::string substrate;               // local | docker | ec2 | ecs
  std::string region;
  SandboxStatus status = SandboxStatus::kCreating;
  std::string failure;                 // why status is kFailed (empty otherwise)
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;           // set by the store on every write
  int64_t started_at_ms = 0;           // last create/resume; 0 while stopped
  int64_t ttl_deadline_ms = 0;         // 0 = never expires
  int64_t idle_timeout_s = 0;          // 0 = no idle timeout
  int64_t last_activity_ms = 0;        // last time the supervisor saw activity
  bool locked = false;
  std::optional<std::string> cloned_from;
  // The processes that own the sandbox (0 when none). start_time is the kernel's start time
  // (clock ticks since boot, /proc/PID/stat field 22) so a reused pid is never mistaken.
  int64_t supervisor_pid = 0;
  uint64_t supervisor_start = 0;
  int64_t init_pid = 0;
  uint64_t init_start = 0;
};

struct Event {
  int64_t id = 0;
  std::string sandbox_id;
  int64_t at_ms = 0;
  std::string kind;    // created, started, stopped, paused, resumed, locked, unlocked,
                       // extended, ttl-expired, idle, destroyed, failed, doctor...
  std::string detail;  // free text (one line)
};

class FleetStore {
 public:
  virtual ~FleetStore() = default;

  // Adds a sandbox. Assigns `number` (the lowest positive integer no live sandbox uses) and
  // created/updated times when 0. InvalidArgument when the id exists or the alias is taken
  // ("alias 'x' is already used by sb-1234abcd"), and when the id or a set alias is empty.
  // Returns the stored row.
  [[nodiscard]] virtual Result<SandboxRecord> insert(SandboxRecord record) = 0;

  // The row with this exact id, or nullopt.
  [[nodiscard]] virtual Result<std::optional<SandboxRecord>> get(std::string_view id) = 0;

  // What the user typed: an id, an alias, a local number ("3" or "#3"). NotFound naming the
  // reference and suggesting `km list`.
  [[nodiscard]] virtual Result<SandboxRecord> resolve(std::string_view ref) = 0;

  // Every sandbox, ordered by number.
  [[nodiscard]] virtual Result<std::vector<SandboxRecord>> list() = 0;

  // Reads the row, lets `change` edit it, writes it back — all in one write transaction, so
  // concurrent modifies of the same row never lose an update. If `change` fails nothing is
  // written and its error is returned. The id and number cannot be changed; a changed alias
  // must stay unique. NotFound when the row is gone. Returns the row as written.
  // `change` runs while the write lock is held: keep it short, and never call the store from it.
  [[nodiscard]] virtual Result<SandboxRecord> modify(
      std::string_view id, const std::function<Status(SandboxRecord&)>& change) = 0;

  // Deletes the row (events are kept). NotFound when there is none.
  [[nodiscard]] virtual Status remove(std::string_view id) = 0;

  // Appends to the sandbox's history. `at_ms` 0 = now.
  [[nodiscard]] virtual Status addEvent(std::string_view sandbox_id, std::string_view kind,
                                        std::string_view detail, int64_t at_ms = 0) = 0;

  // The newest `limit` events of a sandbox, oldest first.
  [[nodiscard]] virtual Result<std::vector<Event>> events(std::string_view sandbox_id,
                                                          size_t limit) = 0;
};

// Opens (creating if needed, mode 0600) the SQLite database at `path` and brings its schema up
// to the current version. Unavailable with the path and SQLite's message when the file cannot
// be opened or is not a km database; InvalidArgument when its schema is newer than this km.
[[nodiscard]] Result<std::unique_ptr<FleetStore>> openSqlite(const std::string& path);

// The schema version this build writes.
int currentSchemaVersion();

// Milliseconds since the Unix epoch, from the system clock.
int64_t nowMs();

}  // namespace km::store
