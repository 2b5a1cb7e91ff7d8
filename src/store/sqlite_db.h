// Private to km::store: RAII owners for a SQLite connection (Db), its prepared statements
// (Stmt) and write transactions (WriteTxn), and the one place SQLite result codes become
// km::Error. Not thread-safe: a Db and everything made from it belong to one thread (the
// connection is opened with SQLITE_OPEN_NOMUTEX).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace km::store::sqlite {

// The Error for SQLite result `rc` while doing `op` on connection `db` (may be null):
// "<op> on <file>: <sqlite3_errmsg>". The code follows rc: BUSY, I/O, NOTADB, CORRUPT and
// FULL are Unavailable; READONLY and PERM PermissionDenied; CONSTRAINT InvalidArgument;
// SQL and API misuse Internal.
Error sqliteError(sqlite3* db, int rc, std::string_view op);

struct StmtDeleter {
  // Set for a statement of its Db's cache: it is reset and handed back, not finalized.
  bool* in_use = nullptr;
  void operator()(sqlite3_stmt* stmt) const;
};
struct DbDeleter {
  void operator()(sqlite3* db) const;  // sqlite3_close_v2; warns if it fails
};

// A prepared statement. Bind with 1-based indexes (?1, ?2…); read columns 0-based.
class Stmt {
 public:
  Stmt(Stmt&&) noexcept = default;
  Stmt& operator=(Stmt&&) noexcept = default;

  // A failed bind (out of memory, too big) is remembered and returned by the next step().
  void bind(int index, std::string_view text);
  void bind(int index, int64_t value);
  void bindOptional(int index, const std::optional<std::string>& text);  // NULL when unset
  void bindNull(int index);

  // true when a row is ready to read, false when the statement has finished.
  [[nodiscard]] Result<bool> step();
  // Steps to the end, ignoring rows: for INSERT, UPDATE, DELETE and PRAGMA writes.
  [[nodiscard]] Status run();

  int64_t int64At(int column) const;
  std::string textAt(int column) const;
  std::optional<std::string> optionalTextAt(int column) const;  // nullopt for NULL

 private:
  friend class Db;
  explicit Stmt(sqlite3_stmt* stmt, bool* in_use = nullptr) : stmt_(stmt, StmtDeleter{in_use}) {}
  std::unique_ptr<sqlite3_stmt, StmtDeleter> stmt_;
  int bind_rc_ = 0;  // SQLITE_OK until a bind fails
};

// An open connection. Move-only; closing happens in the destructor.
class Db {
 public:
  // Opens the existing file `path` read-write (no create: the caller makes the file so it
  // gets mode 0600). Unavailable naming the path when SQLite cannot open it.
  [[nodiscard]] static Result<Db> open(const std::string& path);

  Db(Db&& other) noexcept
      : db_(std::move(other.db_)), path_(std::move(other.path_)), cache_(std::exchange(other.cache_, {})) {}
  Db& operator=(Db&& other) noexcept;
  ~Db();  // finalizes the cached statements, then closes

  // A statement for `sql`, compiled once per connection and reused (a long-lived supervisor
  // reads its row for years; compiling the SELECT each time was most of its idle cost). A
  // statement still in use when the same SQL is asked for again is compiled afresh.
  [[nodiscard]] Result<Stmt> prepare(std::string_view sql);
  // Runs SQL (one or more statements) whose rows, if any, are not needed.
  [[nodiscard]] Status exec(const std::string& sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;
  // True while a transaction is open (SQLite rolls back by itself after some errors).
  bool inTransaction() const;

  sqlite3* get() const { return db_.get(); }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void finalizeCache();
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    std::unique_ptr<bool> in_use;  // its address stays put when the map grows
  };
  static constexpr size_t kMaxCached = 64;
  std::unique_ptr<sqlite3, DbDeleter> db_;
  std::string path_;
  std::unordered_map<std::string, Cached> cache_;
};

// BEGIN IMMEDIATE … COMMIT. Taking the write lock at BEGIN (not at the first write) is what
// makes read-modify-write safe across processes: a second writer waits in busy_timeout instead
// of failing with SQLITE_BUSY when it tries to upgrade a read lock. Rolls back in the
// destructor unless committed. Borrows the Db, which must outlive it.
class WriteTxn {
 public:
  [[nodiscard]] static Result<WriteTxn> begin(Db& db);
  WriteTxn(WriteTxn&& other) noexcept : db_(other.db_), open_(other.open_) { other.open_ = false; }
  WriteTxn& operator=(WriteTxn&&) = delete;
  ~WriteTxn();

  [[nodiscard]] Status commit();

 private:
  explicit WriteTxn(Db& db) : db_(&db) {}
  Db* db_;
  bool open_ = true;
};

}  // namespace km::store::sqlite
