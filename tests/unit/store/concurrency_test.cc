// Several processes writing one database at once, as several `km` commands and supervisors
// do: BEGIN IMMEDIATE plus busy_timeout must serialise them with no lost update.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "store/store.h"
#include "support/temp_dir.h"
#include "unit/store/records.h"

namespace km::store {
namespace {

constexpr int kProcesses = 4;

// Runs `work(child_index)` in kProcesses forked children, each of which must open its own
// store (a SQLite connection must not cross fork). The children start their work together,
// once all are forked (they wait for the parent to close a pipe), so their first steps race.
// Returns the children's exit codes.
std::vector<int> runChildren(const std::function<int(int)>& work) {
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return {};
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcesses; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
      ::_exit(work(i));  // _exit: no gtest or static teardown in the child
    }
    EXPECT_GT(pid, 0) << "fork failed";
    if (pid > 0) pids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // every child's read returns 0: go
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

TEST(SqliteConcurrencyTest, ModifiesFromManyProcessesLoseNoUpdate) {
  constexpr int kIncrements = 50;
  km::test::ScopedTempDir dir;
  const std::string path = dir.path() + "/fleet.db";
  {
    auto store = openSqlite(path);
    ASSERT_TRUE(store) << store.error().message();
    auto r = km::test::sampleRecord("sb-1");
    r.idle_timeout_s = 0;
    ASSERT_TRUE((*store)->insert(r));
  }  // closed before fork

  auto codes = runChildren([&](int) {
    auto store = openSqlite(path);
    if (!store) return 2;
    for (int i = 0; i < kIncrements; ++i) {
      auto done = (*store)->modify("sb-1", [](SandboxRecord& r) {
        ++r.idle_timeout_s;
        return ok();
      });
      if (!done) return 3;
    }
    return 0;
  });
  for (int code : codes) EXPECT_EQ(code, 0);

  auto store = openSqlite(path);
  ASSERT_TRUE(store) << store.error().message();
  auto got = (*store)->get("sb-1");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->idle_timeout_s, kProcesses * kIncrements);
}

TEST(SqliteConcurrencyTest, InsertsFromManyProcessesGetDistinctNumbers) {
  constexpr int kInserts = 10;
  km::test::ScopedTempDir dir;
  const std::string path = dir.path() + "/fleet.db";
  ASSERT_TRUE(openSqlite(path));  // create and migrate once; children also race on open

  auto codes = runChildren([&](int child) {
    auto store = openSqlite(path);
    if (!store) return 2;
    for (int i = 0; i < kInserts; ++i) {
      std::string id = "sb-" + std::to_string(child) + "-" + std::to_string(i);
      if (!(*store)->insert(km::test::sampleRecord(id))) return 3;
    }
    return 0;
  });
  for (int code : codes) EXPECT_EQ(code, 0);

  auto store = openSqlite(path);
  ASSERT_TRUE(store);
  auto all = (*store)->list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), static_cast<size_t>(kProcesses * kInserts));
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].number, static_cast<int>(i + 1));
}

TEST(SqliteConcurrencyTest, ProcessesCreatingTheDatabaseTogetherAllSucceed) {
  // The first opener switches the file to WAL, which needs an exclusive lock while the others
  // read the header; SQLite answers that race with SQLITE_BUSY without waiting, so it must be
  // waited out by the store. The race is narrow: several fresh databases make it likely.
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    km::test::ScopedTempDir dir;
    const std::string path = dir.path() + "/fleet.db";
    auto codes = runChildren([&](int child) {
      auto store = openSqlite(path);
      if (!store) {
        std::fprintf(stderr, "child %d: %s\n", child, store.error().message().c_str());
        return 2;
      }
      return (*store)->addEvent("sb-1", "hello", std::to_string(child)) ? 0 : 3;
    });
    for (int code : codes) EXPECT_EQ(code, 0) << "round " << round;
    auto store = openSqlite(path);
    ASSERT_TRUE(store);
    EXPECT_EQ((*store)->events("sb-1", 100)->size(), static_cast<size_t>(kProcesses));
  }
}

}  // namespace
}  // namespace km::store
