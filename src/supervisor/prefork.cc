// Prepared: the supervisor forked before the plan exists; the plan follows through a pipe.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>
#include <vector>

#include "doc/json_io.h"
#include "supervisor/report.h"
#include "supervisor/serve.h"
#include "supervisor/supervisor.h"

namespace km::supervisor {
namespace {

// The request: one JSON line of where to run, then the plan in its own codec.
std::string encode(const Options& o, std::string_view plan_json, const std::string& log_path) {
  doc::Node n = doc::Node::map();
  n.set("kmHome", doc::Node::string(o.km_home));
  n.set("storePath", doc::Node::string(o.store_path));
  n.set("id", doc::Node::string(o.id));
  n.set("logPath", doc::Node::string(log_path));
  return doc::toJson(n, -1) + "\n" + std::string(plan_json);
}

std::string text(const doc::Node& n, std::string_view key) {
  const doc::Node* v = n.find(key);
  return v ? v->text() : "";
}

// In the child: read the request, become the supervisor. Never returns.
[[noreturn]] void waitAndServe(int plan_read_fd, int ready_write_fd) {
  // Of everything the creator had open keep only the two pipes, as fds 3 and 4.
  int p = ::fcntl(plan_read_fd, F_DUPFD_CLOEXEC, 10);
  int r = ::fcntl(ready_write_fd, F_DUPFD_CLOEXEC, 10);
  if (p < 0 || r < 0) ::_exit(127);
  const int plan_read = 3, ready_write = 4;
  ::dup3(p, plan_read, O_CLOEXEC);
  ::dup3(r, ready_write, O_CLOEXEC);
  sys::closeFdsFrom(5);
  // Make the namespaces while the creator still loads the profile. Without privileges this
  // fails quietly; the launch later says what is missing.
  // The default substrate's start: a plan for another substrate ends it unused.
  std::unique_ptr<substrate::Staged> staged;
  if (auto s = substrate::openDefault({})->stage(); s) staged = std::move(*s);
  detail::Early early = detail::prepareEarly();
  auto request = sys::readAll(plan_read, "plan pipe", 16 << 20);
  if (!request || request->empty()) {
    staged.reset();  // the creator gave up (bad profile, …): end the staged init
    ::_exit(0);
  }
  size_t newline = request->find('\n');
  doc::Node n;
  std::string err;
  if (newline == std::string::npos || !doc::parseJson(request->substr(0, newline), n, &err)) ::_exit(1);
  auto plan = plan::fromJson(std::string_view(*request).substr(newline + 1), "the plan sent to the supervisor");
  if (!plan) {
    (void)sys::writeAll(ready_write, encodeReport(Result<Report>(std::move(plan).error())), "ready pipe");
    ::_exit(1);
  }
  *request = std::string();
  Options o;
  o.km_home = text(n, "kmHome");
  o.store_path = text(n, "storePath");
  o.id = text(n, "id");
  std::string log_path = text(n, "logPath");
  ::close(plan_read);
  detail::detachStdio(log_path);
  ::prctl(PR_SET_NAME, "km-supervise", 0, 0, 0);
  // `ps` would show the creating command (`km create PROFILE`) for the sandbox's whole life,
  // and `pkill -f "km create"` would end supervisors: say what this process is, as fully as
  // the inherited argument area allows.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"km-supervise", "--home", o.km_home, o.id},
                                               std::vector<std::string>{"km-supervise", o.id},
                                               std::vector<std::string>{"km-supervise"}}) {
    if (sys::replaceCommandLine(args, false)) break;
  }
  o.ready_fd = ready_write;
  ::_exit(detail::serveNew(o, *plan, ready_write, std::move(staged), std::move(early)));
}

}  // namespace

Result<Prepared> Prepared::fork() {
  auto plan_pipe = sys::pipe();
  if (!plan_pipe) return std::move(plan_pipe).error();
  auto ready_pipe = sys::pipe();
  if (!ready_pipe) return std::move(ready_pipe).error();
  auto [plan_read, plan_write] = std::move(*plan_pipe);
  auto [ready_read, ready_write] = std::move(*ready_pipe);
  // One fork, not two: the parent does not wait for a middle process (each fork copies page
  // tables, slow on virtual machines). The child is the CLI's until the CLI exits moments
  // later; then init adopts it.
  pid_t child = ::fork();
  if (child < 0) return sys::errnoError("fork", "supervisor", errno);
  if (child == 0) {
    plan_write.reset();
    ready_read.reset();
    char started = '+';
    (void)!::write(ready_write.get(), &started, 1);
    waitAndServe(plan_read.get(), ready_write.get());
  }
  // Wait for the child's first sign of life. Without this the scheduler tends to leave it
  // queued behind us on this CPU for a few milliseconds; blocking here lets it run at once,
  // and we wake on the idle CPU.
  char started = 0;
  ssize_t n;
  do {
    n = ::read(ready_read.get(), &started, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || started != '+') return internalError("the forked supervisor ended at once");
  return Prepared(std::move(plan_write), std::move(ready_read));
}

Result<Started> Prepared::start(const Options& o, const plan::SandboxPlan& plan, std::string_view plan_json,
                                const std::string& log_path,
                                const std::function<Status()>& meanwhile) {
  if (!plan_write_.valid()) return internalError("Prepared::start called twice");
  std::string request = encode(o, plan_json, log_path);
  // If the supervisor died already, the write fails with EPIPE (reported below) instead of
  // SIGPIPE ending km silently.
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  Status sent = sys::writeAll(plan_write_.get(), request, "plan pipe");
  ::sigaction(SIGPIPE, &old, nullptr);
  plan_write_.reset();
  if (!sent) return std::move(sent).error();
  Status side = meanwhile();
  return detail::finishStart(o, plan.substrate, ready_read_.get(), side, log_path);
}

}  // namespace km::supervisor
