#include "core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/sys.h"

extern char** environ;

namespace km {
namespace {

// Reads what `fd` has into `into` up to `max` bytes (the rest dropped); false at its end.
bool drain(int fd, std::string& into, size_t max, bool& cut) {
  char buf[16384];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;
  size_t room = into.size() < max ? max - into.size() : 0;
  into.append(buf, std::min(room, static_cast<size_t>(n)));
  if (static_cast<size_t>(n) > room) cut = true;
  return true;
}

}  // namespace

Result<Captured> runCaptured(const std::vector<std::string>& argv, std::string_view input, size_t max_output,
                             std::chrono::milliseconds timeout) {
  if (argv.empty()) return invalidArgument("runCaptured: no program");
  auto in = sys::pipe(), out = sys::pipe(), err = sys::pipe();
  if (!in || !out || !err) return unavailable("pipe: " + std::string(std::strerror(errno)));
  posix_spawn_file_actions_t files;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&files);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&files, in->first.get(), 0);
  posix_spawn_file_actions_adddup2(&files, out->second.get(), 1);
  posix_spawn_file_actions_adddup2(&files, err->second.get(), 2);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &files, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return unavailable("cannot run " + argv[0] + ": " + std::strerror(rc));
  in->first.reset();
  out->second.reset();
  err->second.reset();
  for (int fd : {in->second.get(), out->first.get(), err->first.get()}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
  ::signal(SIGPIPE, SIG_IGN);  // a child that stops reading is its business, not a crash here

  Captured c;
  size_t written = 0;
  bool out_open = true, err_open = true;
  if (input.empty()) in->second.reset();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      (void)sys::waitPid(pid);
      return unavailable(argv[0] + " did not finish within " + std::to_string(timeout.count()) + " ms");
    }
    pollfd p[3] = {{out_open ? out->first.get() : -1, POLLIN, 0},
                   {err_open ? err->first.get() : -1, POLLIN, 0},
                   {in->second.valid() ? in->second.get() : -1, POLLOUT, 0}};
    int n = ::poll(p, 3, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) return unavailable("poll: " + std::string(std::strerror(errno)));
    if (p[0].revents) out_open = drain(out->first.get(), c.out, max_output, c.out_cut);
    if (p[1].revents) err_open = drain(err->first.get(), c.err, max_output, c.err_cut);
    if (p[2].revents & (POLLERR | POLLHUP)) {
      in->second.reset();  // the child closed its stdin
    } else if (p[2].revents & POLLOUT) {
      ssize_t w = ::write(in->second.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in->second.reset();
    }
  }
  in->second.reset();
  auto status = sys::waitPid(pid);
  if (!status) return std::move(status).error();
  c.exit_code = sys::exitCodeOf(*status);
  return c;
}

Result<Streamed> runStreaming(const std::vector<std::string>& argv,
                              const std::function<void(std::string_view)>& on_line, size_t tail_bytes) {
  if (argv.empty()) return invalidArgument("runStreaming: no program");
  auto out = sys::pipe();
  if (!out) return std::move(out).error();
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out->second.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, out->second.get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int err = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  out->second.reset();
  if (err != 0) return sys::errnoError("posix_spawn", argv[0], err);
  // The end of the output (twice the tail, so trailing newlines can go) and the line not yet
  // complete.
  std::string kept, pending;
  bool cut = false;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(out->first.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view chunk(buf, static_cast<size_t>(n));
    kept.append(chunk);
    if (kept.size() > 2 * tail_bytes + sizeof buf) {
      kept.erase(0, kept.size() - 2 * tail_bytes);
      cut = true;
    }
    if (!on_line) continue;
    pending.append(chunk);
    size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      if (nl > start) on_line(std::string_view(pending).substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (on_line && !pending.empty()) on_line(pending);
  auto status = sys::waitPid(pid);
  if (!status) return std::move(status).error();
  Streamed s;
  s.exit_code = sys::exitCodeOf(*status);
  while (!kept.empty() && kept.back() == '\n') kept.pop_back();
  if (cut || kept.size() > tail_bytes) kept = "…" + kept.substr(kept.size() > tail_bytes ? kept.size() - tail_bytes : 0);
  s.tail = std::move(kept);
  return s;
}

}  // namespace km
