// What only the SQLite store does: the file (mode, WAL, fds), the schema version and the
// refusal of files that are not km's. The raw checks go through the store's own private
// SQLite wrapper, on a second connection.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "store/sqlite_db.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "unit/store/records.h"

namespace km::store {
namespace {

using km::test::sampleRecord;
using km::test::ScopedTempDir;

// First column of the first row of `sql` on a separate connection, as text.
std::string query(const std::string& path, const std::string& sql) {
  auto db = sqlite::Db::open(path);
  EXPECT_TRUE(db) << db.error().message();
  if (!db) return "";
  auto stmt = db->prepare(sql);
  EXPECT_TRUE(stmt) << stmt.error().message();
  if (!stmt) return "";
  auto row = stmt->step();
  EXPECT_TRUE(row) << row.error().message();
  return row && *row ? stmt->textAt(0) : "";
}

void exec(const std::string& path, const std::string& sql) {
  auto db = sqlite::Db::open(path);
  ASSERT_TRUE(db) << db.error().message();
  auto st = db->exec(sql);
  ASSERT_TRUE(st) << st.error().message();
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string contentsOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  ScopedTempDir dir_;
  std::string path_ = dir_.path() + "/fleet.db";
};

TEST(SqliteDbTest, ReusedStatementsStartCleanAndTheSameSqlMayBeInUseTwice) {
  ScopedTempDir dir;
  std::string path = dir.path() + "/fleet.db";
  auto store = openSqlite(path);
  ASSERT_TRUE(store) << store.error().message();
  auto db = sqlite::Db::open(path);
  ASSERT_TRUE(db) << db.error().message();
  const std::string sql = "SELECT ?1, (SELECT count(*) FROM sandboxes)";
  {
    auto first = db->prepare(sql);
    ASSERT_TRUE(first);
    first->bind(1, "bound once");
    ASSERT_TRUE(*first->step());
    // The same SQL while the first is mid-row: a second, independent statement.
    auto second = db->prepare(sql);
    ASSERT_TRUE(second);
    second->bind(1, "second");
    ASSERT_TRUE(*second->step());
    EXPECT_EQ(first->textAt(0), "bound once");
    EXPECT_EQ(second->textAt(0), "second");
  }
  for (int i = 0; i < 3; ++i) {
    // Reused: reset, its old binding cleared (NULL), and it sees rows written since.
    auto again = db->prepare(sql);
    ASSERT_TRUE(again);
    ASSERT_TRUE(*again->step());
    EXPECT_EQ(again->optionalTextAt(0), std::nullopt) << i;
    EXPECT_EQ(again->int64At(1), i);
    ASSERT_TRUE((*store)->insert(sampleRecord("sb-0000000" + std::to_string(i))));
  }
  EXPECT_FALSE(db->prepare("SELECT nonsense FROM nowhere"));
}

TEST_F(SqliteStoreTest, CreatesTheDatabaseAndItsWalOwnerOnly) {
  const mode_t old_umask = ::umask(0);  // the mode must not depend on the umask
  auto store = openSqlite(path_);
  ::umask(old_umask);
  ASSERT_TRUE(store) << store.error().message();
  ASSERT_TRUE((*store)->insert(sampleRecord("sb-1")));
  EXPECT_EQ(modeOf(path_), 0600u);
  ASSERT_TRUE(std::filesystem::exists(path_ + "-wal"));
  EXPECT_EQ(modeOf(path_ + "-wal"), 0600u);
}

TEST_F(SqliteStoreTest, UsesWalAndStampsTheSchemaVersionAndApplicationId) {
  ASSERT_TRUE(openSqlite(path_));
  EXPECT_EQ(query(path_, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query(path_, "PRAGMA user_version"), std::to_string(currentSchemaVersion()));
  EXPECT_EQ(query(path_, "PRAGMA application_id"), std::to_string(0x6B6D6673));
}

TEST_F(SqliteStoreTest, ReopeningKeepsRowsAndEvents) {
  {
    auto store = openSqlite(path_);
    ASSERT_TRUE(store) << store.error().message();
    ASSERT_TRUE((*store)->insert(sampleRecord("sb-1", "web")));
    ASSERT_TRUE((*store)->addEvent("sb-1", "created", "x", 7));
  }
  auto store = openSqlite(path_);
  ASSERT_TRUE(store) << store.error().message();
  auto r = (*store)->resolve("web");
  ASSERT_TRUE(r) << r.error().message();
  km::test::expectSameRecord(*r, **(*store)->get("sb-1"));
  EXPECT_EQ(r->number, 1);
  auto events = (*store)->events("sb-1", 5);
  ASSERT_TRUE(events && events->size() == 1u);
  EXPECT_EQ((*events)[0].at_ms, 7);
}

TEST_F(SqliteStoreTest, AMissingDirectoryIsUnavailableNamingIt) {
  std::string path = dir_.path() + "/no/such/dir/fleet.db";
  auto store = openSqlite(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(store.error().message().find(dir_.path() + "/no/such/dir does not exist"),
            std::string::npos)
      << store.error().message();
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/no"));
}

TEST_F(SqliteStoreTest, ANewerSchemaIsRefusedAskingForANewerKm) {
  ASSERT_TRUE(openSqlite(path_));
  exec(path_, "PRAGMA user_version = " + std::to_string(currentSchemaVersion() + 1));
  auto store = openSqlite(path_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(store.error().message().find("upgrade km"), std::string::npos);
  EXPECT_NE(store.error().message().find(path_), std::string::npos);
}

TEST_F(SqliteStoreTest, AFileThatIsNotSqliteIsRefusedAndLeftAlone) {
  std::string text(4096, 'x');
  std::string path = dir_.write("notes.db", "these are my notes, not a database\n" + text);
  auto store = openSqlite(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(store.error().message().find(path), std::string::npos);
  EXPECT_NE(store.error().message().find("not a database"), std::string::npos)
      << store.error().message();
  EXPECT_EQ(contentsOf(path), "these are my notes, not a database\n" + text);
}

TEST_F(SqliteStoreTest, AnotherProgramsDatabaseIsRefusedAndLeftAlone) {
  std::string path = dir_.path() + "/app.db";
  std::ofstream(path).close();
  exec(path, "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');");
  auto store = openSqlite(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(store.error().message().find("not a km fleet database"), std::string::npos)
      << store.error().message();
  EXPECT_NE(store.error().message().find(path), std::string::npos);
  EXPECT_EQ(query(path, "PRAGMA journal_mode"), "delete");  // not switched to WAL
  EXPECT_EQ(query(path, "SELECT count(*) FROM sqlite_master"), "1");
}

TEST_F(SqliteStoreTest, AStatusThisKmDoesNotKnowIsReportedNotGuessed) {
  auto store = openSqlite(path_);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->insert(sampleRecord("sb-1")));
  exec(path_, "UPDATE sandboxes SET status = 'hibernating'");
  auto got = (*store)->get("sb-1");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(got.error().message().find("'hibernating'"), std::string::npos);
}

TEST_F(SqliteStoreTest, SqliteErrorsNameTheOperationAndSqlitesMessage) {
  auto store = openSqlite(path_);
  ASSERT_TRUE(store);
  exec(path_, "DROP TABLE events");
  auto st = (*store)->addEvent("sb-1", "created", "");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("recording event 'created' of sandbox sb-1"),
            std::string::npos)
      << st.error().message();
  EXPECT_NE(st.error().message().find("no such table: events"), std::string::npos);
  // The failed write left no transaction open: the next write works.
  EXPECT_TRUE((*store)->insert(sampleRecord("sb-1")));
}

TEST_F(SqliteStoreTest, DatabaseFilesAreOpenedCloseOnExec) {
  auto store = openSqlite(path_);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->insert(sampleRecord("sb-1")));  // opens the -wal and -shm files too
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (ec || target.rfind(path_, 0) != 0) continue;
    int fd = std::stoi(entry.path().filename().string());
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << target;
    ++seen;
  }
  EXPECT_GE(seen, 2);
}

}  // namespace
}  // namespace km::store
