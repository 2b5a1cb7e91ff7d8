// The control socket's client side and the detached start of a supervisor.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/sys.h"
#include "supervisor/report.h"
#include "supervisor/serve.h"
#include "supervisor/supervisor.h"

namespace km::supervisor {

Status spawn(const std::string& km_binary, const std::vector<std::string>& global_args,
             const std::string& id, const std::string& log_path) {
  auto pipe = sys::pipe();
  if (!pipe) return std::move(pipe).error();
  auto [read_end, write_end] = std::move(*pipe);
  std::vector<std::string> args = {km_binary};
  args.insert(args.end(), global_args.begin(), global_args.end());
  args.insert(args.end(), {"supervise", id, "--ready-fd", "3"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = ::fork();
  if (child < 0) return sys::errnoError("fork", "supervisor", errno);
  if (child == 0) {
    // Fork again so the supervisor is nobody's child here: it outlives the CLI and is
    // reaped by the system, never left a zombie of a long-running caller.
    if (::fork() != 0) ::_exit(0);
    detail::detachStdio(log_path);
    ::dup2(write_end.get(), 3);
    sys::closeFdsFrom(4);
    ::execv(km_binary.c_str(), argv.data());
    ::_exit(127);
  }
  write_end.reset();
  (void)sys::waitPid(child);
  auto text = sys::readAll(read_end.get(), "supervisor ready pipe", 1 << 20);
  if (!text) return std::move(text).error();
  auto report = decodeReport(*text, log_path);
  if (!report) return std::move(report).error();
  return ok();
}

Result<std::string> request(const std::string& socket_path, std::string_view command,
                            std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return invalidArgument("control socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sys::errnoError("socket", "unix", errno);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return unavailable("the sandbox's supervisor does not answer on " + socket_path + " (" +
                       std::strerror(errno) + "); run `km doctor`");
  }
  KM_TRY(sys::writeAll(fd.get(), std::string(command) + "\n", socket_path));
  ::shutdown(fd.get(), SHUT_WR);
  auto reply = sys::readAll(fd.get(), socket_path, 1 << 20);
  if (!reply) {
    return unavailable("no reply from the supervisor on " + socket_path + ": " + reply.error().message());
  }
  auto report = decodeReport(*reply, socket_path);
  if (!report) return std::move(report).error();
  return report->state;
}

}  // namespace km::supervisor
