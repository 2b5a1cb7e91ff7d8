// km exec / km shell / init commands: the host side of a command running inside a sandbox.
// The command gets a new pty from the sandbox's own devpts (with a terminal) or pipes
// (without); km relays bytes between them and the caller's stdio, forwards window size and
// signals, and restores the caller's terminal on return. The command never holds a host fd,
// and the relay stays in the caller's cgroups (a sandbox cannot OOM-kill it).
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>

#include "core/log.h"
#include "core/strings.h"
#include "core/sys.h"
#include "substrate/local/rootfs.h"
#include "substrate/local/spawn.h"

namespace km::substrate::local {
namespace {

using Clock = std::chrono::steady_clock;

// How long output is still relayed after the command exited, for processes it left behind
// that keep the pipes or the pty open (their output after that is not the command's).
constexpr auto kDrainAfterExit = std::chrono::milliseconds(100);
// How long a command may take to exit after km hung it up (its operator is gone, or asked
// twice) before it is killed: km must always return, whatever the command ignores.
constexpr auto kHangupGrace = std::chrono::seconds(2);

// The master of a new pty in the sandbox's devpts instance, reached through init's root
// without following any link the sandbox could have planted (--root can replace /dev/ptmx).
struct Pty {
  sys::UniqueFd master, slave;
};
// nullopt when the sandbox holds every terminal its devpts allows (kPtysPerSandbox).
Result<std::optional<Pty>> openPty(const EnterSpec& spec) {
  auto root = sys::open("/proc/" + std::to_string(spec.init_pid) + "/root", O_PATH | O_DIRECTORY);
  if (!root) return std::move(root).error().context("the sandbox's root");
  if (!sys::processAlive(spec.init_pid, spec.init_start)) return unavailable("the sandbox's init process is gone");
  int fd = sys::openat2(root->get(), "dev/pts/ptmx", O_RDWR | O_NOCTTY,
                        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 && errno == ENOSPC) return std::optional<Pty>();
  if (fd < 0) return sys::errnoError("openat2", "the sandbox's /dev/pts/ptmx", errno);
  Pty pty;
  pty.master.reset(fd);
  struct statfs sfs {};
  struct stat st {};
  if (::fstatfs(fd, &sfs) != 0 || sfs.f_type != DEVPTS_SUPER_MAGIC || ::fstat(fd, &st) != 0 ||
      !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2) {
    return permissionDenied("the sandbox's /dev/pts/ptmx is not its devpts multiplexer");
  }
  int unlock = 0;
  if (::ioctl(fd, TIOCSPTLCK, &unlock) != 0) return sys::errnoError("ioctl", "TIOCSPTLCK", errno);
  int slave = ::ioctl(fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return sys::errnoError("ioctl", "TIOCGPTPEER", errno);
  pty.slave.reset(slave);
  // Programs that reopen their terminal by name (ssh, gpg, sudo's askpass) need to own it.
  uid_t uid = spec.root ? 0 : spec.user.uid;
  gid_t gid = spec.root ? 0 : spec.user.gid;
  if (::fchown(slave, uid, gid) != 0) return sys::errnoError("fchown", "pty", errno);
  if (::fchmod(slave, 0620) != 0) return sys::errnoError("fchmod", "pty", errno);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::optional<Pty>(std::move(pty));
}

// The caller's terminal in raw mode for the session (keys go to the sandbox's pty, which
// does the line editing and signal characters); restored on destruction.
class RawMode {
 public:
  explicit RawMode(int fd) : fd_(fd) {
    if (::tcgetattr(fd, &saved_) == 0) {
      active_ = true;
      apply();
    }
  }
  ~RawMode() {
    if (active_) ::tcsetattr(fd_, TCSADRAIN, &saved_);
  }
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;
  void apply() {
    if (!active_) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    ::tcsetattr(fd_, TCSADRAIN, &raw);
  }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// Blocks the signals the session handles and reads them from a signalfd; the old mask and
// SIGPIPE disposition come back on destruction. SIGPIPE is ignored meanwhile so a closed
// stdout shows as EPIPE, not as km's death. Without a signalfd (fd() < 0) nothing is blocked:
// the signals then act on km as usual.
class SessionSignals {
 public:
  SessionSignals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGWINCH, SIGCONT}) sigaddset(&set, sig);
    ::sigprocmask(SIG_BLOCK, &set, &old_mask_);
    fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd_.valid()) {
      log::warn("km.substrate", sys::errnoError("signalfd", "km exec", errno).message() +
                                    "; signals reach km itself, not the command");
      ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    }
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old_pipe_);
  }
  ~SessionSignals() {
    fd_.reset();
    ::sigaction(SIGPIPE, &old_pipe_, nullptr);
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SessionSignals(const SessionSignals&) = delete;
  SessionSignals& operator=(const SessionSignals&) = delete;
  int fd() const { return fd_.get(); }

 private:
  sys::UniqueFd fd_;
  sigset_t old_mask_{};
  struct sigaction old_pipe_ {};
};

// One byte stream from the command to the caller. What was read and not yet written waits in
// `pending`; while it does, `from` is not read (the command meets back-pressure, km never
// blocks in a write).
struct Output {
  int from = -1;       // our end of the command's pipe, or the pty master
  int to = -1;         // the caller's fd
  bool owned = false;  // `from` is the relay's to close (a pipe; not the master)
  bool done = false;   // nothing more comes from `from`
  std::string pending;
  void finish() {
    done = true;
    if (owned && from >= 0) ::close(std::exchange(from, -1));
  }
};

// At most this much per write to the caller after POLLOUT: a pipe then has room for it
// (PIPE_BUF), so the caller's fd (never made non-blocking: the shell shares it) cannot block.
constexpr size_t kWriteChunk = 4096;

// ssh's escape on a terminal of km's own: Enter, then "~." ends the session from km's side
// (the command is killed), whatever the program inside does with its keys; "~~" sends one
// "~". What the sandbox runs cannot stop it: the bytes are read here, before they reach it.
struct TerminalEscape {
  bool line_start = true;
  bool tilde = false;
  // Appends what goes to the command to `out`; true when the operator asked to disconnect.
  bool feed(std::string_view in, std::string& out) {
    for (char c : in) {
      if (tilde) {
        tilde = false;
        if (c == '.') return true;
        out.push_back('~');
        if (c != '~') out.push_back(c);
      } else if (line_start && c == '~') {
        tilde = true;
        continue;
      } else {
        out.push_back(c);
      }
      line_start = c == '\r' || c == '\n';
    }
    return false;
  }
};

struct Relay {
  explicit Relay(const SessionIo& caller) : io(caller) {}
  const SessionIo& io;
  int in_to = -1;           // our end of the command's stdin (pipe write end, or the master)
  bool close_in_at_eof = true;
  std::vector<Output> outputs;
  int signal_fd = -1;
  Spawned child;
  std::optional<int> status;  // the command's wait status once reaped
  RawMode* raw = nullptr;
  int pty_master = -1;      // for window size and the foreground group
  uint64_t written = 0;
  bool limit_noted = false;
  int stop_requests = 0;                         // SIGINT/QUIT/TERM/HUP received
  std::optional<Clock::time_point> hup_at;       // the operator is gone: SIGHUP then…
  std::optional<Clock::time_point> kill_at;      // …and SIGKILL then
  TerminalEscape escape;                         // on a raw terminal only

  ~Relay() {
    // An error return leaves the command running: end it, so nothing outlives km unreaped.
    if (!status && child.pid > 0) {
      signalCommand(SIGKILL);
      (void)sys::waitPid(child.pid);
    }
  }
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // The command's process groups: its own (it leads a session) and the pty's foreground one.
  // Never after it was reaped (its pid may be someone else's by then).
  void signalCommand(int sig) {
    if (status) return;
    pid_t group = pty_master >= 0 ? ::tcgetpgrp(pty_master) : -1;
    if (group > 0 && group != child.pid) ::kill(-group, sig);
    ::kill(-child.pid, sig);
  }
  // The operator is gone (terminal closed, standard output unread): SIGHUP after `delay`
  // (a command meeting a closed pipe usually ends by itself first), SIGKILL if it is still
  // there kHangupGrace later.
  void hangUp(std::chrono::milliseconds delay) {
    if (kill_at) return;
    hup_at = Clock::now() + delay;
    kill_at = *hup_at + kHangupGrace;
  }

  // Queues what the command wrote, within the output limit (the rest is dropped, once noted).
  void take(Output& o, std::string_view data) {
    if (limit_noted) return;  // past the limit: the rest is read (the command never blocks) and dropped
    if (written + data.size() > io.output_limit) {
      limit_noted = true;
      o.pending.append(data.substr(0, io.output_limit - written));
      o.pending += "\n[km: output beyond " + std::to_string(io.output_limit) + " bytes dropped]\n";
      return;
    }
    written += data.size();
    o.pending.append(data);
  }

  void flush(Output& o) {
    size_t n = std::min(o.pending.size(), kWriteChunk);
    ssize_t w = ::write(o.to, o.pending.data(), n);
    if (w > 0) {
      o.pending.erase(0, static_cast<size_t>(w));
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
      // Our reader is gone (`km exec … | head`): stop reading, so the command meets a closed
      // pipe as it would in a local pipeline; and when it is its standard output (or its
      // terminal), a command that ignores that must still not keep km waiting forever.
      o.pending.clear();
      o.finish();
      if (&o == &outputs.front()) hangUp(std::chrono::milliseconds(500));
    }
  }

  void onSignal() {
    signalfd_siginfo si{};
    while (::read(signal_fd, &si, sizeof si) == sizeof si) {
      int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGWINCH) {
        copyWindowSize();
      } else if (sig == SIGCONT) {
        if (raw) raw->apply();  // a shell may have reset the terminal while we were stopped
      } else if (++stop_requests >= 2) {
        // Asked again: the command did not go. End it, so km returns.
        signalCommand(SIGKILL);
      } else {
        signalCommand(sig);
      }
    }
  }

  void copyWindowSize() {
    if (pty_master < 0) return;
    winsize ws{};
    if (::ioctl(io.in, TIOCGWINSZ, &ws) == 0 || ::ioctl(io.out, TIOCGWINSZ, &ws) == 0) {
      ::ioctl(pty_master, TIOCSWINSZ, &ws);
    }
  }

  static int msUntil(Clock::time_point t) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 60'000));
  }

  Result<int> run() {
    std::string in_pending;  // read from the caller, not yet taken by the command
    bool in_open = true;
    std::optional<Clock::time_point> drain_until;
    char buf[65536];
    for (;;) {
      bool all_done = true;
      for (auto& o : outputs) all_done = all_done && o.done && o.pending.empty();
      if (status && (all_done || Clock::now() >= *drain_until)) return sys::exitCodeOf(*status);
      if (hup_at && Clock::now() >= *hup_at) {
        signalCommand(SIGHUP);
        hup_at.reset();
      }
      if (kill_at && !status && Clock::now() >= *kill_at) {
        signalCommand(SIGKILL);
        kill_at = Clock::now() + kHangupGrace;  // again, for whatever slipped out of its groups
      }
      std::vector<pollfd> fds;
      auto add = [&](int fd, short ev) {
        fds.push_back({fd, ev, 0});
        return fds.size() - 1;
      };
      size_t sig_i = signal_fd >= 0 ? add(signal_fd, POLLIN) : SIZE_MAX;
      size_t pid_i = !status ? add(child.pidfd.get(), POLLIN) : SIZE_MAX;
      size_t in_i = SIZE_MAX, in_to_i = SIZE_MAX;
      if (!status && in_open && in_to >= 0) {
        if (in_pending.empty()) {
          in_i = add(io.in, POLLIN);
        } else {
          in_to_i = add(in_to, POLLOUT);
        }
      }
      std::vector<size_t> out_i(outputs.size(), SIZE_MAX);
      for (size_t i = 0; i < outputs.size(); ++i) {
        Output& o = outputs[i];
        if (!o.pending.empty()) {
          out_i[i] = add(o.to, POLLOUT);
        } else if (!o.done) {
          out_i[i] = add(o.from, POLLIN);
        }
      }
      int timeout = -1;
      for (const auto& deadline : {drain_until, hup_at, status ? std::nullopt : kill_at}) {
        if (deadline) timeout = timeout < 0 ? msUntil(*deadline) : std::min(timeout, msUntil(*deadline));
      }
      int n = ::poll(fds.data(), fds.size(), timeout);
      if (n < 0 && errno != EINTR) return sys::errnoError("poll", "session relay", errno);
      if (n <= 0) continue;
      if (sig_i != SIZE_MAX && fds[sig_i].revents) onSignal();
      if (pid_i != SIZE_MAX && fds[pid_i].revents) {
        auto st = sys::waitPid(child.pid);
        if (!st) return std::move(st).error();
        status = *st;
        drain_until = Clock::now() + kDrainAfterExit;
      }
      if (in_i != SIZE_MAX && fds[in_i].revents) {
        ssize_t r = ::read(io.in, buf, sizeof buf);
        if (r > 0 && raw != nullptr) {
          in_pending.clear();
          if (escape.feed(std::string_view(buf, static_cast<size_t>(r)), in_pending)) {
            const char note[] = "\r\n[km: disconnected (~.)]\r\n";
            (void)!::write(io.err, note, sizeof note - 1);
            return 255;  // the destructor kills and reaps the command
          }
        } else if (r > 0) {
          in_pending.assign(buf, static_cast<size_t>(r));
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
          in_open = false;
          if (close_in_at_eof) ::close(std::exchange(in_to, -1));
          // On a pty the caller's stdin is its terminal: end of it is a hangup.
          if (pty_master >= 0 && raw != nullptr) hangUp(std::chrono::milliseconds(0));
        }
      }
      if (in_to_i != SIZE_MAX && fds[in_to_i].revents) {
        ssize_t w = ::write(in_to, in_pending.data(), in_pending.size());
        if (w > 0) {
          in_pending.erase(0, static_cast<size_t>(w));
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
          in_open = false;  // the command closed its stdin: nothing more to give it
          in_pending.clear();
        }
      }
      for (size_t i = 0; i < outputs.size(); ++i) {
        Output& o = outputs[i];
        if (out_i[i] == SIZE_MAX || !fds[out_i[i]].revents) continue;
        if (!o.pending.empty()) {
          flush(o);
          continue;
        }
        ssize_t r = ::read(o.from, buf, sizeof buf);
        if (r > 0) {
          take(o, std::string_view(buf, static_cast<size_t>(r)));
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
          o.finish();  // EOF, or EIO: every holder of the pty's other end is gone
        }
      }
    }
  }
};

bool useTerminal(const SessionIo& io) {
  switch (io.terminal) {
    case Terminal::kAlways: return true;
    case Terminal::kNever: return false;
    case Terminal::kAuto: break;
  }
  return ::isatty(io.in) == 1 && ::isatty(io.out) == 1;
}

// The command could not be executed: say so on the caller's stderr, as a shell would, and
// give the shell's status (127 or 126).
int notStarted(const SessionIo& io, const Spawned& child) {
  std::string line = "km: " + escapeForTerminal(child.exec_message, /*keep_newlines=*/false) + "\n";
  (void)sys::writeAll(io.err, line, "stderr");
  return child.exec_status;
}

Result<int> runWithPty(const EnterSpec& spec, const Cgroups& cgroups, const SessionIo& io, Pty pty) {
  std::optional<SessionSignals> signals;
  if (io.forward_signals) signals.emplace();
  Relay relay(io);
  relay.pty_master = pty.master.get();
  relay.copyWindowSize();
  ChildStdio stdio;
  stdio.fd[0] = stdio.fd[1] = stdio.fd[2] = pty.slave.get();
  stdio.controlling_terminal = true;
  auto child = spawnInside(spec, cgroups, stdio);
  if (!child) return std::move(child).error();
  if (child->exec_status != 0) return notStarted(io, *child);
  pty.slave.reset();  // the command's now; its last close ends the session's output
  std::optional<RawMode> raw;
  if (::isatty(io.in) == 1) raw.emplace(io.in);
  relay.raw = raw ? &*raw : nullptr;
  relay.in_to = pty.master.get();
  relay.close_in_at_eof = false;  // the master also carries the output
  relay.outputs.push_back({pty.master.get(), io.out, false, false, {}});
  relay.signal_fd = signals ? signals->fd() : -1;
  relay.child = std::move(*child);
  return relay.run();
}

Result<int> runWithPipes(const EnterSpec& spec, const Cgroups& cgroups, const SessionIo& io) {
  auto in = sys::pipe();
  if (!in) return std::move(in).error();
  auto out = sys::pipe();
  if (!out) return std::move(out).error();
  auto err = sys::pipe();
  if (!err) return std::move(err).error();
  std::optional<SessionSignals> signals;
  if (io.forward_signals) signals.emplace();
  ChildStdio stdio;
  stdio.fd[0] = in->first.get();
  stdio.fd[1] = out->second.get();
  stdio.fd[2] = err->second.get();
  auto child = spawnInside(spec, cgroups, stdio);
  if (!child) return std::move(child).error();
  if (child->exec_status != 0) return notStarted(io, *child);
  in->first.reset();
  out->second.reset();
  err->second.reset();
  for (int fd : {in->second.get(), out->first.get(), err->first.get()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  Relay relay(io);
  relay.in_to = in->second.release();  // closed by the relay at end of input
  relay.outputs.push_back({out->first.release(), io.out, true, false, {}});
  relay.outputs.push_back({err->first.release(), io.err, true, false, {}});
  relay.signal_fd = signals ? signals->fd() : -1;
  relay.child = std::move(*child);
  auto code = relay.run();
  if (relay.in_to >= 0) ::close(relay.in_to);
  for (auto& o : relay.outputs) o.finish();
  return code;
}

}  // namespace

Result<int> runSession(const EnterSpec& spec, const Cgroups& cgroups, const SessionIo& io) {
  if (!useTerminal(io)) return runWithPipes(spec, cgroups, io);
  auto pty = openPty(spec);
  if (!pty) return std::move(pty).error();
  if (!*pty) {
    // The sandbox holds all of its terminals: still run the command, without one.
    log::warn("km.substrate", "the sandbox holds all " + std::to_string(kPtysPerSandbox) +
                                  " of its terminals; running the command with pipes instead");
    return runWithPipes(spec, cgroups, io);
  }
  return runWithPty(spec, cgroups, io, std::move(**pty));
}

}  // namespace km::substrate::local
