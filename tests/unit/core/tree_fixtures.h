// Helpers for the km::tree and km::beneath tests: scratch dirs that can hold trees deeper
// than PATH_MAX, deep chains built with bounded fds, forked children with a deadline, and a
// thread that keeps exchanging two names (the attack the walkers must survive).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "core/tree.h"
#include "support/temp_dir.h"

namespace km::test {

// A ScopedTempDir emptied with tree::removeTree first: std::filesystem::remove_all works by
// full path and cannot remove trees deeper than PATH_MAX.
class TreeScratch {
 public:
  TreeScratch() = default;
  ~TreeScratch() { (void)tree::removeTree(dir_.path()); }
  TreeScratch(const TreeScratch&) = delete;
  TreeScratch& operator=(const TreeScratch&) = delete;

  const std::string& path() const { return dir_.path(); }
  std::string operator/(const std::string& rel) const { return dir_.path() + "/" + rel; }

 private:
  ScopedTempDir dir_;
};

inline bool writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

inline std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Makes `depth` nested directories named `name` under `base`, with a file "leaf" holding
// `leaf_text` at the bottom. Only two fds at a time, relative names only.
inline bool makeChain(const std::string& base, int depth, const std::string& name,
                      const std::string& leaf_text) {
  int fd = ::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (int i = 0; fd >= 0 && i < depth; ++i) {
    if (::mkdirat(fd, name.c_str(), 0755) != 0) {
      ::close(fd);
      return false;
    }
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    fd = next;
  }
  if (fd < 0) return false;
  int leaf = ::openat(fd, "leaf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  ::close(fd);
  if (leaf < 0) return false;
  bool written =
      ::write(leaf, leaf_text.data(), leaf_text.size()) == static_cast<ssize_t>(leaf_text.size());
  ::close(leaf);
  return written;
}

// Follows a chain made by makeChain: the number of levels, and the bottom's "leaf" (its
// content and stat) — or -1 levels if something is off.
struct ChainEnd {
  int levels = -1;
  std::string leaf_text;
  struct stat leaf_stat {};
  struct stat bottom_dir_stat {};
};
inline ChainEnd followChain(const std::string& base, const std::string& name) {
  ChainEnd end;
  int fd = ::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int levels = 0;
  for (;;) {
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) break;
    ::close(fd);
    fd = next;
    ++levels;
  }
  ::fstat(fd, &end.bottom_dir_stat);
  int leaf = ::openat(fd, "leaf", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  ::close(fd);
  if (leaf < 0) return end;
  ::fstat(leaf, &end.leaf_stat);
  char buf[256];
  ssize_t n = ::read(leaf, buf, sizeof buf);
  ::close(leaf);
  if (n < 0) return end;
  end.leaf_text.assign(buf, static_cast<size_t>(n));
  end.levels = levels;
  return end;
}

// Runs `fn` in a forked child killed by SIGALRM after `deadline_seconds`; returns its exit
// code (128 + signal when killed). The child leaves with _exit: no gtest or atexit teardown.
inline int runInChild(const std::function<int()>& fn, unsigned deadline_seconds = 60) {
  ::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::alarm(deadline_seconds);
    ::_exit(fn());
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Everything the regular files under `root` hold, concatenated; symlinks are not followed.
inline std::string allRegularFileText(const std::string& root) {
  std::string all;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(root, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->symlink_status(ec).type() == std::filesystem::file_type::regular) {
      all += readText(it->path().string());
    }
  }
  return all;
}

// Exchanges two names with renameat2(RENAME_EXCHANGE) as fast as it can until destroyed.
class Swapper {
 public:
  Swapper(std::string a, std::string b)
      : a_(std::move(a)), b_(std::move(b)), thread_([this] { run(); }) {}
  ~Swapper() {
    stop_ = true;
    thread_.join();
  }
  Swapper(const Swapper&) = delete;
  Swapper& operator=(const Swapper&) = delete;

  long swaps() const { return swaps_; }

  // Spins until `n` more exchanges have happened (or `cap` passed), so the next step runs
  // while the swapper is known to be hitting its names. True if they happened.
  bool awaitSwaps(long n, std::chrono::milliseconds cap = std::chrono::milliseconds(2000)) const {
    const long target = swaps_ + n;
    const auto deadline = std::chrono::steady_clock::now() + cap;
    while (swaps_ < target) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

 private:
  void run() {
    while (!stop_) {
      if (::renameat2(AT_FDCWD, a_.c_str(), AT_FDCWD, b_.c_str(), RENAME_EXCHANGE) == 0) {
        ++swaps_;
      } else {
        std::this_thread::yield();  // the names are not there (yet, or any more)
      }
    }
  }

  std::string a_, b_;
  std::atomic<bool> stop_{false};
  std::atomic<long> swaps_{0};
  std::thread thread_;
};

}  // namespace km::test
