// The syscall layer: errors name the call and subject, trees are removed without following
// links, process identity survives pid reuse checks.
#include "core/sys.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/fs.h"
#include "support/temp_dir.h"

namespace km::sys {
namespace {

TEST(SysTest, ErrnoErrorsNameCallSubjectAndMapCodes) {
  Error e = errnoError("mount", "overlay, /x", EINVAL);
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.message(), "mount(overlay, /x): Invalid argument");
  EXPECT_EQ(errnoError("open", "/y", ENOENT).code(), ErrorCode::kNotFound);
  EXPECT_EQ(errnoError("open", "/y", EPERM).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(errnoError("write", "/y", ENOSPC).code(), ErrorCode::kUnavailable);
}

TEST(SysTest, PipeCarriesDataAndEndsAreCloseOnExec) {
  auto p = pipe();
  ASSERT_TRUE(p);
  EXPECT_TRUE(::fcntl(p->first.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(p->second.get(), F_GETFD) & FD_CLOEXEC);
  ASSERT_TRUE(writeAll(p->second.get(), "hello", "pipe"));
  p->second.reset();
  auto text = readAll(p->first.get(), "pipe");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hello");
}

TEST(SysTest, ReadAllRefusesMoreThanItsLimit) {
  auto p = pipe();
  ASSERT_TRUE(p);
  ASSERT_TRUE(writeAll(p->second.get(), std::string(100, 'x'), "pipe"));
  p->second.reset();
  auto text = readAll(p->first.get(), "pipe", 10);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code(), ErrorCode::kInvalidArgument);
}

TEST(SysTest, ProcessIdentityUsesStartTime) {
  auto self = processStartTime(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_TRUE(processAlive(::getpid(), *self));
  EXPECT_TRUE(processAlive(::getpid(), 0));
  EXPECT_FALSE(processAlive(::getpid(), *self + 1));  // a "reused" pid is not ours
  pid_t child = ::fork();
  if (child == 0) ::_exit(3);
  auto status = waitPid(child);
  ASSERT_TRUE(status);
  EXPECT_EQ(exitCodeOf(*status), 3);
  EXPECT_FALSE(processAlive(child, 0));
}

TEST(SysTest, ExitCodeOfASignalIs128PlusItsNumber) {
  pid_t child = ::fork();
  if (child == 0) {
    ::raise(SIGTERM);
    ::_exit(0);
  }
  auto status = waitPid(child);
  ASSERT_TRUE(status);
  EXPECT_EQ(exitCodeOf(*status), 128 + SIGTERM);
}

TEST(SysTest, CloseFdsFromKeepsOnlyWhatIsAsked) {
  pid_t child = ::fork();
  if (child == 0) {
    int a = ::open("/dev/null", O_RDONLY);
    int b = ::open("/dev/null", O_RDONLY);
    int c = ::open("/dev/null", O_RDONLY);
    closeFdsFrom(a, b);
    bool ok = ::fcntl(a, F_GETFD) < 0 && ::fcntl(b, F_GETFD) >= 0 && ::fcntl(c, F_GETFD) < 0 &&
              ::fcntl(2, F_GETFD) >= 0;
    ::_exit(ok ? 0 : 1);
  }
  auto status = waitPid(child);
  ASSERT_TRUE(status);
  EXPECT_EQ(exitCodeOf(*status), 0);
}

}  // namespace
}  // namespace km::sys
