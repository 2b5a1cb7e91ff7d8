#include "store/sqlite_schema.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>

#include "core/fs.h"
#include "store/store.h"

namespace km::store::sqlite {
namespace {

// Migration N (1-based) takes a database from schema version N-1 to N. Append only: a step
// that has shipped is never edited, because databases out there already ran it.
constexpr std::string_view kMigrations[] = {
    // 1: sandboxes (one column per SandboxRecord field) and their history.
    R"sql(
CREATE TABLE sandboxes (
  id               TEXT    NOT NULL PRIMARY KEY,
  alias            TEXT    UNIQUE,
  number           INTEGER NOT NULL UNIQUE CHECK (number > 0),
  profile_name     TEXT    NOT NULL,
  profile_yaml     TEXT    NOT NULL,
  plan_json        TEXT    NOT NULL,
  substrate        TEXT    NOT NULL,
  region           TEXT    NOT NULL,
  status           TEXT    NOT NULL,
  failure          TEXT    NOT NULL,
  created_at_ms    INTEGER NOT NULL,
  updated_at_ms    INTEGER NOT NULL,
  started_at_ms    INTEGER NOT NULL,
  ttl_deadline_ms  INTEGER NOT NULL,
  idle_timeout_s   INTEGER NOT NULL,
  last_activity_ms INTEGER NOT NULL,
  locked           INTEGER NOT NULL,
  cloned_from      TEXT,
  supervisor_pid   INTEGER NOT NULL,
  supervisor_start INTEGER NOT NULL,
  init_pid         INTEGER NOT NULL,
  init_start       INTEGER NOT NULL
);
-- No foreign key to sandboxes: the history outlives the row (remove keeps events).
CREATE TABLE events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  sandbox_id TEXT    NOT NULL,
  at_ms      INTEGER NOT NULL,
  kind       TEXT    NOT NULL,
  detail     TEXT    NOT NULL
);
CREATE INDEX events_by_sandbox ON events (sandbox_id, id);
)sql",
    // 2: the spend ledger (store/ledger.h): budget pools, reservations in flight, usage events.
    R"sql(
CREATE TABLE budget_pools (
  sandbox_id      TEXT    NOT NULL,
  pool            TEXT    NOT NULL CHECK (pool IN ('ai', 'compute')),
  limit_micros    INTEGER NOT NULL CHECK (limit_micros >= 0),
  spent_micros    INTEGER NOT NULL,
  reserved_micros INTEGER NOT NULL CHECK (reserved_micros >= 0),
  warning_ppm     INTEGER NOT NULL,
  warned          INTEGER NOT NULL,
  PRIMARY KEY (sandbox_id, pool)
) WITHOUT ROWID;
CREATE TABLE reservations (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  sandbox_id    TEXT    NOT NULL,
  pool          TEXT    NOT NULL,
  amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),
  at_ms         INTEGER NOT NULL
);
CREATE INDEX reservations_by_sandbox ON reservations (sandbox_id, id);
-- Kept after the sandbox is gone (history), like events.
CREATE TABLE usage_events (
  id                    INTEGER PRIMARY KEY AUTOINCREMENT,
  sandbox_id            TEXT    NOT NULL,
  pool                  TEXT    NOT NULL,
  at_ms                 INTEGER NOT NULL,
  provider              TEXT    NOT NULL,
  api                   TEXT    NOT NULL,
  model                 TEXT    NOT NULL,
  request_id            TEXT    NOT NULL,
  input_tokens          INTEGER NOT NULL,
  output_tokens         INTEGER NOT NULL,
  cache_write_5m_tokens INTEGER NOT NULL,
  cache_write_1h_tokens INTEGER NOT NULL,
  cache_read_tokens     INTEGER NOT NULL,
  reasoning_tokens      INTEGER NOT NULL,
  web_search_requests   INTEGER NOT NULL,
  cost_micros           INTEGER NOT NULL,
  note                  TEXT    NOT NULL
);
CREATE INDEX usage_by_sandbox ON usage_events (sandbox_id, id);
)sql",
    // 3: agent runs (store/agent_runs.h), kept after the sandbox is gone like events.
    R"sql(
CREATE TABLE agent_runs (
  sandbox_id    TEXT    NOT NULL,
  number        INTEGER NOT NULL CHECK (number > 0),
  agent         TEXT    NOT NULL,
  command       TEXT    NOT NULL,
  prompt        TEXT    NOT NULL,
  run_dir       TEXT    NOT NULL,
  started_at_ms INTEGER NOT NULL,
  ended_at_ms   INTEGER NOT NULL,
  exit_status   INTEGER,
  state         TEXT    NOT NULL CHECK (state IN ('running', 'exited', 'lost')),
  output        TEXT    NOT NULL,
  errors        TEXT    NOT NULL,
  PRIMARY KEY (sandbox_id, number)
) WITHOUT ROWID;
CREATE INDEX usage_by_sandbox_time ON usage_events (sandbox_id, at_ms);
)sql",
    // 4: action quotas (store/action_quotas.h): counts per window and the freeze.
    R"sql(
CREATE TABLE action_counts (
  sandbox_id TEXT    NOT NULL,
  action     TEXT    NOT NULL,
  win        TEXT    NOT NULL,
  count      INTEGER NOT NULL CHECK (count >= 0),
  PRIMARY KEY (sandbox_id, action, win)
) WITHOUT ROWID;
CREATE TABLE action_freezes (
  sandbox_id TEXT    PRIMARY KEY,
  reason     TEXT    NOT NULL,
  at_ms      INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
};

// Creates the database file with mode 0600 before SQLite sees it (SQLite would create it
// 0644 less the umask, and the rows hold resolved profiles). An existing file is kept as it is.
// SQLite gives the -wal and -shm files the same mode as this one.
Status createPrivateFile(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) return ok();
    std::string msg = "open(" + path + "): " + std::strerror(err);
    return err == EACCES ? permissionDenied(msg) : unavailable(msg);
  }
  int rc = ::fchmod(fd, 0600);  // exact mode whatever the umask
  int err = errno;
  ::close(fd);
  if (rc != 0) return unavailable("fchmod(" + path + "): " + std::strerror(err));
  return ok();
}

struct Identity {
  int64_t application_id = 0;
  int64_t version = 0;  // PRAGMA user_version
  int64_t tables = 0;   // user tables, whoever made them
  bool fresh() const { return application_id == 0 && version == 0 && tables == 0; }
};

Result<Identity> readIdentity(Db& db) {
  // One statement, so the three values come from one snapshot. This is also the first read of
  // the file: a file that is not SQLite fails here with SQLITE_NOTADB.
  auto stmt = db.prepare(
      "SELECT (SELECT application_id FROM pragma_application_id),"
      " (SELECT user_version FROM pragma_user_version),"
      " (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%')");
  if (!stmt) return std::move(stmt).error();
  auto row = stmt->step();
  if (!row) return std::move(row).error();
  if (!*row) return internalError("reading the schema version returned no row");
  return Identity{stmt->int64At(0), stmt->int64At(1), stmt->int64At(2)};
}

std::string hex(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%08llx", static_cast<unsigned long long>(v & 0xffffffff));
  return buf;
}

// Refuses files km must not touch. A fresh (empty) database is ours to initialise.
Status checkIdentity(const Identity& id) {
  if (id.application_id != kApplicationId && !id.fresh()) {
    return unavailable("not a km fleet database (it has " + std::to_string(id.tables) +
                       " table(s) and application_id " + hex(id.application_id) +
                       "); refusing to touch it, point km at another file");
  }
  if (id.version > currentSchemaVersion()) {
    return invalidArgument("its schema version " + std::to_string(id.version) +
                           " is newer than this km understands (" +
                           std::to_string(currentSchemaVersion()) + "); upgrade km");
  }
  return ok();
}

bool upToDate(const Identity& id) {
  return id.application_id == kApplicationId && id.version == currentSchemaVersion();
}

Status setJournalModeWal(Db& db) {
  // Persistent in the file; a no-op once set. The first switch reads the header under a shared
  // lock and then needs an exclusive one; when another process holds a shared lock at that
  // moment (several commands creating the store together), SQLite returns SQLITE_BUSY at once
  // rather than call the busy handler, which could deadlock two upgraders. So wait here, in
  // short sleeps, up to the same busy timeout every other statement gets.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    auto stmt = db.prepare("PRAGMA journal_mode = WAL");
    if (!stmt) return std::move(stmt).error();
    auto row = stmt->step();
    if (!row) {
      bool busy = (sqlite3_errcode(db.get()) & 0xff) == SQLITE_BUSY;
      if (!busy || std::chrono::steady_clock::now() >= deadline) return std::move(row).error();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    std::string mode = *row ? stmt->textAt(0) : "";
    if (mode != "wal") {
      return unavailable("cannot switch to WAL mode (journal_mode is '" + mode +
                         "'); is it on a network filesystem?");
    }
    return ok();
  }
}

Status migrate(Db& db) {
  auto txn = WriteTxn::begin(db);
  if (!txn) return std::move(txn).error();
  // Read again under the write lock: another process may have migrated since we looked.
  auto id = readIdentity(db);
  if (!id) return std::move(id).error();
  KM_TRY(checkIdentity(*id));
  if (id->fresh()) KM_TRY(db.exec("PRAGMA application_id = " + std::to_string(kApplicationId)));
  for (int64_t v = id->version; v < currentSchemaVersion(); ++v) {
    std::string to = std::to_string(v + 1);
    if (auto st = db.exec(std::string(kMigrations[v])); !st) {
      return std::move(st).error().context("migrating the fleet schema to version " + to);
    }
    KM_TRY(db.exec("PRAGMA user_version = " + to));
  }
  return txn->commit();
}

}  // namespace

Status prepareDatabase(Db& db) {
  KM_TRY(db.exec("PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs)));
  auto id = readIdentity(db);
  if (!id) return std::move(id).error().context("reading the schema version");
  // Check before switching to WAL: that switch writes the header of whatever file this is.
  KM_TRY(checkIdentity(*id));
  if (auto st = setJournalModeWal(db); !st) return std::move(st).error().context("switching to WAL");
  KM_TRY(db.exec("PRAGMA synchronous = NORMAL"));  // durable at checkpoints; safe in WAL
  // Connections do not checkpoint on close (sqlite_db.cc), so the WAL file is kept between
  // commands: truncate it back to this size after each checkpoint instead of letting it stay
  // at its largest.
  KM_TRY(db.exec("PRAGMA journal_size_limit = 4194304"));
  KM_TRY(db.exec("PRAGMA foreign_keys = ON"));
  if (upToDate(*id)) return ok();
  return migrate(db);
}

Result<Db> openDatabase(const std::string& path) {
  if (path.empty()) return invalidArgument("the fleet store path is empty");
  const std::string what = "opening fleet store " + path;
  const std::string dir = fs::dirName(path);
  if (!fs::isDirectory(dir)) return unavailable(what + ": directory " + dir + " does not exist");
  if (auto st = createPrivateFile(path); !st) return std::move(st).error().context(what);
  auto db = Db::open(path);
  if (!db) return std::move(db).error().context(what);
  if (auto st = prepareDatabase(*db); !st) return std::move(st).error().context(what);
  return std::move(*db);
}

}  // namespace km::store::sqlite

namespace km::store {

int currentSchemaVersion() { return static_cast<int>(std::size(sqlite::kMigrations)); }

}  // namespace km::store
