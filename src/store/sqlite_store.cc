// The SQLite FleetStore: one connection per object, every write inside BEGIN IMMEDIATE so
// that read-check-write sequences (lowest free number, alias uniqueness, modify) are atomic
// across processes. Errors from SQLite carry the operation as context; validation errors
// (alias taken, id changed, no such sandbox) are returned as they are.
#include <limits>

#include "store/sqlite_db.h"
#include "store/sqlite_record.h"
#include "store/sqlite_schema.h"
#include "store/store.h"

namespace km::store {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::WriteTxn;

Error noSandbox(std::string_view ref) {
  return notFound("no sandbox '" + std::string(ref) + "' (see `km list`)");
}

// "3" or "#3" → 3; nullopt for anything else (including 0 and numbers too long for an int).
std::optional<int64_t> parseNumber(std::string_view ref) {
  if (!ref.empty() && ref.front() == '#') ref.remove_prefix(1);
  if (ref.empty() || ref.size() > 9) return std::nullopt;
  int64_t n = 0;
  for (char c : ref) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n == 0) return std::nullopt;
  return n;
}

class SqliteFleetStore final : public FleetStore {
 public:
  explicit SqliteFleetStore(Db db) : db_(std::move(db)) {}

  Result<SandboxRecord> insert(SandboxRecord r) override {
    const std::string what = "adding sandbox " + r.id;
    if (r.id.empty()) return invalidArgument("a sandbox id cannot be empty");
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error().context(what);
    auto existing = rowById(r.id);
    if (!existing) return std::move(existing).error().context(what);
    if (*existing) return invalidArgument("sandbox id '" + r.id + "' already exists");
    KM_TRY(checkAliasFree(r.alias, r.id, what));
    auto number = lowestFreeNumber();
    if (!number) return std::move(number).error().context(what);
    r.number = *number;
    const int64_t now = nowMs();
    if (r.created_at_ms == 0) r.created_at_ms = now;
    if (r.updated_at_ms == 0) r.updated_at_ms = now;
    if (auto st = writeRow(sqlite::insertRecordSql(), r); !st) {
      return std::move(st).error().context(what);
    }
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return r;
  }

  Result<std::optional<SandboxRecord>> get(std::string_view id) override {
    auto row = rowById(id);
    if (!row) return std::move(row).error().context("reading sandbox " + std::string(id));
    return row;
  }

  Result<SandboxRecord> resolve(std::string_view ref) override {
    // One statement, so the id, alias and number lookups see the same snapshot; the ORDER BY
    // gives an exact id precedence over an alias, and an alias over a number.
    auto stmt = db_.prepare(sqlite::selectRecordSql() +
                            " WHERE id = ?1 OR alias = ?1 OR number = ?2"
                            " ORDER BY CASE WHEN id = ?1 THEN 0 WHEN alias = ?1 THEN 1 ELSE 2 END"
                            " LIMIT 1");
    const std::string what = "resolving sandbox '" + std::string(ref) + "'";
    if (!stmt) return std::move(stmt).error().context(what);
    stmt->bind(1, ref);
    if (auto n = parseNumber(ref)) {
      stmt->bind(2, *n);
    } else {
      stmt->bindNull(2);
    }
    auto row = readOne(*stmt);
    if (!row) return std::move(row).error().context(what);
    if (!*row) return noSandbox(ref);
    return std::move(**row);
  }

  Result<std::vector<SandboxRecord>> list() override {
    auto stmt = db_.prepare(sqlite::selectRecordSql() + " ORDER BY number");
    if (!stmt) return std::move(stmt).error().context("listing sandboxes");
    std::vector<SandboxRecord> out;
    for (;;) {
      auto row = readOne(*stmt);
      if (!row) return std::move(row).error().context("listing sandboxes");
      if (!*row) return out;
      out.push_back(std::move(**row));
    }
  }

  Result<SandboxRecord> modify(std::string_view id,
                               const std::function<Status(SandboxRecord&)>& change) override {
    const std::string what = "modifying sandbox " + std::string(id);
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error().context(what);
    auto row = rowById(id);
    if (!row) return std::move(row).error().context(what);
    if (!*row) return noSandbox(id);
    const SandboxRecord& before = **row;
    SandboxRecord after = before;
    KM_TRY(change(after));  // on error `txn` rolls back; nothing has been written anyway
    if (after.id != before.id) {
      return invalidArgument("the id of sandbox " + before.id + " cannot be changed (to '" +
                             after.id + "')");
    }
    if (after.number != before.number) {
      return invalidArgument("the number of sandbox " + before.id + " cannot be changed (#" +
                             std::to_string(before.number) + " to #" +
                             std::to_string(after.number) + ")");
    }
    if (after.alias != before.alias) KM_TRY(checkAliasFree(after.alias, after.id, what));
    after.updated_at_ms = nowMs();
    if (auto st = writeRow(sqlite::updateRecordSql(), after); !st) {
      return std::move(st).error().context(what);
    }
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return after;
  }

  Status remove(std::string_view id) override {
    const std::string what = "removing sandbox " + std::string(id);
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error().context(what);
    auto stmt = db_.prepare("DELETE FROM sandboxes WHERE id = ?1");
    if (!stmt) return std::move(stmt).error().context(what);
    stmt->bind(1, id);
    if (auto st = stmt->run(); !st) return std::move(st).error().context(what);
    if (db_.changes() == 0) return noSandbox(id);
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return ok();
  }

  Status addEvent(std::string_view sandbox_id, std::string_view kind, std::string_view detail,
                  int64_t at_ms) override {
    const std::string what = "recording event '" + std::string(kind) + "' of sandbox " +
                             std::string(sandbox_id);
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error().context(what);
    auto stmt = db_.prepare(
        "INSERT INTO events (sandbox_id, at_ms, kind, detail) VALUES (?1, ?2, ?3, ?4)");
    if (!stmt) return std::move(stmt).error().context(what);
    stmt->bind(1, sandbox_id);
    stmt->bind(2, at_ms != 0 ? at_ms : nowMs());
    stmt->bind(3, kind);
    stmt->bind(4, detail);
    if (auto st = stmt->run(); !st) return std::move(st).error().context(what);
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return ok();
  }

  Result<std::vector<Event>> events(std::string_view sandbox_id, size_t limit) override {
    const std::string what = "reading the events of sandbox " + std::string(sandbox_id);
    // Newest `limit` by id (the order they were added), then flipped to oldest first.
    auto stmt = db_.prepare(
        "SELECT id, sandbox_id, at_ms, kind, detail FROM"
        " (SELECT * FROM events WHERE sandbox_id = ?1 ORDER BY id DESC LIMIT ?2)"
        " ORDER BY id");
    if (!stmt) return std::move(stmt).error().context(what);
    constexpr auto kMax = static_cast<size_t>(std::numeric_limits<int64_t>::max());
    stmt->bind(1, sandbox_id);
    stmt->bind(2, static_cast<int64_t>(limit < kMax ? limit : kMax));
    std::vector<Event> out;
    for (;;) {
      auto row = stmt->step();
      if (!row) return std::move(row).error().context(what);
      if (!*row) return out;
      out.push_back(Event{stmt->int64At(0), stmt->textAt(1), stmt->int64At(2), stmt->textAt(3),
                          stmt->textAt(4)});
    }
  }

 private:
  // The next row of a selectRecordSql() statement, or nullopt when there are no more.
  static Result<std::optional<SandboxRecord>> readOne(Stmt& stmt) {
    auto row = stmt.step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<SandboxRecord>();
    auto record = sqlite::readRecord(stmt);
    if (!record) return std::move(record).error();
    return std::optional<SandboxRecord>(std::move(*record));
  }

  Result<std::optional<SandboxRecord>> rowById(std::string_view id) {
    auto stmt = db_.prepare(sqlite::selectRecordSql() + " WHERE id = ?1");
    if (!stmt) return std::move(stmt).error();
    stmt->bind(1, id);
    return readOne(*stmt);
  }

  // InvalidArgument when `alias` is empty or another sandbox than `self_id` has it.
  Status checkAliasFree(const std::optional<std::string>& alias, std::string_view self_id,
                        std::string_view what) {
    if (!alias) return ok();
    if (alias->empty()) return invalidArgument("an alias cannot be empty");
    auto stmt = db_.prepare("SELECT id FROM sandboxes WHERE alias = ?1");
    if (!stmt) return std::move(stmt).error().context(what);
    stmt->bind(1, *alias);
    auto row = stmt->step();
    if (!row) return std::move(row).error().context(what);
    if (*row && stmt->textAt(0) != self_id) {
      return invalidArgument("alias '" + *alias + "' is already used by " + stmt->textAt(0));
    }
    return ok();
  }

  // The lowest positive number no row uses. Call inside the write transaction that inserts.
  Result<int> lowestFreeNumber() {
    auto stmt = db_.prepare(
        "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM sandboxes WHERE number = 1) THEN 1"
        " ELSE (SELECT min(s.number) + 1 FROM sandboxes s WHERE NOT EXISTS"
        "       (SELECT 1 FROM sandboxes t WHERE t.number = s.number + 1)) END");
    if (!stmt) return std::move(stmt).error();
    auto row = stmt->step();
    if (!row) return std::move(row).error();
    if (!*row) return internalError("finding a free sandbox number returned no row");
    return static_cast<int>(stmt->int64At(0));
  }

  Status writeRow(const std::string& sql, const SandboxRecord& r) {
    auto stmt = db_.prepare(sql);
    if (!stmt) return std::move(stmt).error();
    sqlite::bindRecord(*stmt, r);
    return stmt->run();
  }

  Db db_;
};

}  // namespace

Result<std::unique_ptr<FleetStore>> openSqlite(const std::string& path) {
  auto db = sqlite::openDatabase(path);
  if (!db) return std::move(db).error();
  return std::unique_ptr<FleetStore>(std::make_unique<SqliteFleetStore>(std::move(*db)));
}

}  // namespace km::store
