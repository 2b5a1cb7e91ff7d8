#include "store/sqlite_db.h"

#include <sqlite3.h>

#include "core/log.h"

namespace km::store::sqlite {
namespace {

constexpr std::string_view kLogger = "km.store";

ErrorCode codeFor(int rc) {
  switch (rc & 0xff) {  // the primary code of an extended one
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return ErrorCode::kPermissionDenied;
    case SQLITE_CONSTRAINT:
      return ErrorCode::kInvalidArgument;
    case SQLITE_ERROR:   // SQL error: our statement is wrong
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
      return ErrorCode::kInternal;
    default:             // BUSY, LOCKED, IOERR, FULL, CANTOPEN, NOTADB, CORRUPT, NOMEM…
      return ErrorCode::kUnavailable;
  }
}

}  // namespace

Error sqliteError(sqlite3* db, int rc, std::string_view op) {
  std::string file = "the fleet store";
  const char* name = db ? sqlite3_db_filename(db, "main") : nullptr;
  if (name && *name) file = name;
  // errmsg describes the connection's last call; the caller reports right after that call.
  const char* text = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return {codeFor(rc), std::string(op) + " on " + file + ": " + (text ? text : "unknown error")};
}

void StmtDeleter::operator()(sqlite3_stmt* stmt) const {
  if (in_use != nullptr) {
    // reset repeats the last step's error, which step() has already reported.
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    *in_use = false;
    return;
  }
  // finalize repeats the last step's error too.
  sqlite3_finalize(stmt);
}

void DbDeleter::operator()(sqlite3* db) const {
  // close_v2 defers the close until outstanding statements are finalized; it fails only on
  // misuse, which we cannot repair in a destructor.
  if (int rc = sqlite3_close_v2(db); rc != SQLITE_OK) {
    log::warn(kLogger, std::string("closing the fleet store: ") + sqlite3_errstr(rc));
  }
}

// --- Stmt ---------------------------------------------------------------------------------

void Stmt::bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Stmt::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Stmt::bindOptional(int index, const std::optional<std::string>& text) {
  if (text) {
    bind(index, std::string_view(*text));
  } else {
    bindNull(index);
  }
}

void Stmt::bindNull(int index) {
  int rc = sqlite3_bind_null(stmt_.get(), index);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Result<bool> Stmt::step() {
  sqlite3* db = sqlite3_db_handle(stmt_.get());
  if (bind_rc_ != SQLITE_OK) return sqliteError(db, bind_rc_, "sqlite3_bind");
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError(db, rc, "sqlite3_step");
}

Status Stmt::run() {
  for (;;) {
    auto row = step();
    if (!row) return std::move(row).error();
    if (!*row) return ok();
  }
}

int64_t Stmt::int64At(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

std::string Stmt::textAt(int column) const {
  // Ask for the text before its length: the conversion to text may change the byte count.
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  int size = sqlite3_column_bytes(stmt_.get(), column);
  if (!text) return {};
  return {reinterpret_cast<const char*>(text), static_cast<size_t>(size)};
}

std::optional<std::string> Stmt::optionalTextAt(int column) const {
  if (sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL) return std::nullopt;
  return textAt(column);
}

// --- Db -----------------------------------------------------------------------------------

Result<Db> Db::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  Db db(raw, path);  // owns the handle even when the open failed
  if (rc != SQLITE_OK) {
    std::string text = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return unavailable("sqlite3_open_v2 on " + path + ": " + text);
  }
  sqlite3_extended_result_codes(raw, 1);
  // No checkpoint when the last connection closes: that checkpoint syncs the database file
  // and would make every short CLI command (km create, km list) wait for the disk as it exits.
  // Commits still checkpoint automatically once the WAL passes 1000 pages; the next opener
  // rebuilds the WAL index from the log, which is cheap at that size.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  return db;
}

Result<Stmt> Db::prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it != cache_.end() && !*it->second.in_use) {
    *it->second.in_use = true;
    return Stmt(it->second.stmt, it->second.in_use.get());
  }
  bool keep = it == cache_.end() && cache_.size() < kMaxCached;
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                              keep ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return sqliteError(db_.get(), rc, "sqlite3_prepare_v3");
  }
  if (!keep) return Stmt(raw);
  Cached& c = cache_[std::string(sql)];
  c.stmt = raw;
  c.in_use = std::make_unique<bool>(true);
  return Stmt(raw, c.in_use.get());
}

void Db::finalizeCache() {
  for (auto& [sql, c] : cache_) sqlite3_finalize(c.stmt);
  cache_.clear();
}

Db::~Db() { finalizeCache(); }

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    finalizeCache();
    db_ = std::move(other.db_);
    path_ = std::move(other.path_);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Status Db::exec(const std::string& sql) {
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqliteError(db_.get(), rc, "sqlite3_exec");
  return ok();
}

int64_t Db::changes() const { return sqlite3_changes64(db_.get()); }

bool Db::inTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

// --- WriteTxn -----------------------------------------------------------------------------

Result<WriteTxn> WriteTxn::begin(Db& db) {
  if (auto st = db.exec("BEGIN IMMEDIATE"); !st) {
    return std::move(st).error().context("starting a write transaction");
  }
  return WriteTxn(db);
}

Status WriteTxn::commit() {
  if (auto st = db_->exec("COMMIT"); !st) {
    return std::move(st).error().context("committing");  // the destructor rolls back
  }
  open_ = false;
  return ok();
}

WriteTxn::~WriteTxn() {
  // After I/O errors, SQLITE_FULL or SQLITE_NOMEM SQLite may have rolled back already.
  if (!open_ || !db_->inTransaction()) return;
  if (auto st = db_->exec("ROLLBACK"); !st) {
    log::warn(kLogger, "rolling back: " + st.error().message());
  }
}

}  // namespace km::store::sqlite
