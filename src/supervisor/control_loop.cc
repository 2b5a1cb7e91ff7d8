#include "supervisor/control_loop.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/strings.h"
#include "supervisor/lifecycle.h"
#include "supervisor/report.h"
#include "supervisor/runtime.h"

namespace km::supervisor {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
using Descriptor = asio::posix::stream_descriptor;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {
constexpr std::string_view kLog = "km.supervisor";
constexpr size_t kMaxRequest = 256;  // "destroy\n" is the longest request there is
constexpr auto kRequestTimeout = 1s;   // a client that says nothing cannot hold a connection
constexpr auto kOomLookInterval = 1s;  // however often the sandbox hits its memory limit
}  // namespace

struct ControlLoop::Impl {
  Impl(store::FleetStore& s, Runtime& r, const Clock& c, sys::UniqueFd listener, int signal_fd)
      : rt(r),
        clock(c),
        lifecycle(r.plan().id, r.plan().teardown_policy, c, s, r),
        acceptor(ctx),
        accept_backoff(ctx),
        signals(ctx),
        timer(ctx),
        init_watch(ctx),
        oom_watch(ctx),
        oom_pause(ctx),
        oom_retry(ctx),
        compute_timer(ctx) {
    error_code ec;
    acceptor.assign(Local(), listener.release(), ec);
    if (ec) log::error(kLog, id() + ": control socket: " + ec.message());
    int fd = ::fcntl(signal_fd, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0) signals.assign(fd, ec);
  }

  const std::string& id() const { return rt.plan().id; }

  // Ends the loop: nothing new is accepted or watched; replies being written still go out,
  // then run() returns.
  void finish() {
    done = true;
    error_code ec;
    acceptor.close(ec);
    accept_backoff.cancel();
    signals.close(ec);
    timer.cancel();
    init_watch.close(ec);
    oom_watch.close(ec);
    oom_pause.cancel();
    oom_retry.cancel();
    compute_timer.cancel();
    for (auto& t : delayed) t->cancel();
  }

  void accept() {
    acceptor.async_accept([this](error_code ec, Local::socket socket) {
      if (done || ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors, say: try again shortly rather than spin.
        log::warn(kLog, id() + ": accepting on the control socket: " + ec.message());
        accept_backoff.expires_after(100ms);
        accept_backoff.async_wait([this](error_code e) {
          if (!e && !done) accept();
        });
        return;
      }
      std::make_shared<Client>(*this, std::move(socket))->start();
      accept();
    });
  }

  void watchSignals() {
    signals.async_wait(Descriptor::wait_read, [this](error_code ec) {
      if (ec || done) return;
      signalfd_siginfo si{};
      bool leave = false;
      while (::read(signals.native_handle(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        leave = leave || si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP;
      }
      if (leave) {
        // The supervisor is asked to leave; the sandbox keeps running (doctor re-adopts).
        log::info(kLog, id() + ": supervisor exiting on signal; the sandbox keeps running");
        finish();
        return;
      }
      watchSignals();
    });
  }

  // Init's exit, through a copy of its pidfd (Runtime keeps its own).
  void watchInit() {
    error_code ec;
    init_watch.close(ec);
    if (rt.initPidfd() < 0) return;
    int fd = ::fcntl(rt.initPidfd(), F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      log::error(kLog, id() + ": watching init: " + sys::errnoError("dup", "pidfd", errno).message());
      return;
    }
    init_watch.assign(fd, ec);
    pid_t pid = rt.initPid();
    init_watch.async_wait(Descriptor::wait_read, [this, pid](error_code e) {
      if (e || done || rt.initPid() != pid) return;  // stopped or restarted meanwhile
      rt.initExited();
      changed();
    });
  }

  // New memory events of the running sandbox's cgroup (see Cgroups::watchMemoryEvents);
  // without a watch the lifecycle's looks still check the OOM count.
  void watchOom() {
    error_code ec;
    oom_watch.close(ec);
    oom_pause.cancel();
    if (!rt.running()) return;
    auto fd = rt.sandbox().watchMemoryEvents();
    if (!fd) {
      log::warn(kLog, id() + ": OOM kills are noticed only every few minutes: " + fd.error().message());
      return;
    }
    oom_watch.assign(fd->release(), ec);
    armOom();
  }

  void drainOom() {
    char buf[4096];
    while (::read(oom_watch.native_handle(), buf, sizeof buf) > 0) {
    }
  }

  // Edge-triggered: whatever arrives while no wait is pending (the pause) is read, and
  // looked at, before the next wait starts.
  void armOom() {
    oom_watch.async_wait(Descriptor::wait_read, [this](error_code ec) {
      if (ec || done) return;
      drainOom();
      lookAtOom();
      oom_pause.expires_after(kOomLookInterval);
      oom_pause.async_wait([this](error_code e) {
        if (e || done || !oom_watch.is_open()) return;
        drainOom();
        lookAtOom();
        armOom();
      });
    });
  }

  // Records new OOM kills; kills held back by the one-record-a-minute limit are recorded
  // when it allows, without waiting for another kill.
  void lookAtOom() {
    if (auto at = rt.checkOomKills()) {
      oom_retry.expires_after(std::chrono::milliseconds(std::max<int64_t>(0, *at - clock.nowMs())));
      oom_retry.async_wait([this](error_code e) {
        if (!e && !done) lookAtOom();
      });
    }
  }

  // The compute pool is charged a minute at a time while the sandbox runs, and at the moment
  // it would be used up; then the sandbox is suspended.
  void scheduleCompute() {
    compute_timer.cancel();
    auto at = rt.nextComputeCharge(clock.nowMs());
    if (!at) return;
    compute_timer.expires_after(std::chrono::milliseconds(std::max<int64_t>(0, *at - clock.nowMs())));
    compute_timer.async_wait([this](error_code e) {
      if (e || done) return;
      if (rt.chargeCompute() || rt.computeUsedUp()) {
        rt.suspendForBudget(store::Pool::kCompute);
        changed();
        return;
      }
      scheduleCompute();
    });
  }

  void schedule(int64_t at_ms) {
    int64_t delay = std::max<int64_t>(0, at_ms - clock.nowMs());
    timer.expires_after(std::chrono::milliseconds(delay));
    timer.async_wait([this](error_code ec) {
      if (!ec && !done) look();
    });
  }

  void look() {
    bool was_running = rt.running();
    lookAtOom();
    Lifecycle::Step step = lifecycle.check();
    if (step.done) {
      finish();
      return;
    }
    if (rt.running() != was_running) changed();
    schedule(step.next_ms);
  }

  // After anything that may have started, stopped or restarted the sandbox.
  void changed() {
    if (done) return;
    if (rt.running() && rt.initPid() != watched_init) lifecycle.restarted();
    watched_init = rt.initPid();
    watchInit();
    watchOom();
    scheduleCompute();
    schedule(clock.nowMs());  // look again now: deadlines and sampling may have changed
  }

  Result<Report> handle(const std::string& cmd) {
    Report state;
    if (cmd == "ping") {
      state.state = !rt.running() ? "stopped" : rt.paused() ? "paused" : "running";
      return state;
    }
    Status s = ok();
    if (cmd == "stop") {
      s = rt.running() ? rt.stop("requested") : ok();
    } else if (cmd == "pause") {
      s = rt.pause();
    } else if (cmd == "resume") {
      if (std::string why = rt.budgetRefusesRunning(); !why.empty() && (!rt.running() || rt.paused())) {
        return invalidArgument(why);
      }
      if (!rt.running()) {
        s = rt.start(false);
      } else if (rt.paused()) {
        s = rt.thaw();
      }
    } else if (cmd == "unlocked") {
      rt.unlocked();  // the lock was lifted (km unlock): a used-up budget suspends now
    } else if (cmd == "destroy") {
      // Done either way: after a failure the row stays `destroying` and `km destroy` or
      // `km doctor --fix` finishes the teardown without us.
      s = rt.destroy("requested");
      finish();
      if (!s) return s.error();
      return state;
    } else {
      return invalidArgument("unknown command '" + escapeForTerminal(cmd, false) +
                             "' (ping, stop, pause, resume, unlocked, destroy)");
    }
    changed();
    if (!s) return s.error();
    return state;
  }

  // One control connection: one request line in, one report line out.
  struct Client : std::enable_shared_from_this<Client> {
    Client(Impl& l, Local::socket s) : loop(l), socket(std::move(s)), in(kMaxRequest), deadline(l.ctx) {}

    void start() {
      auto self = shared_from_this();
      deadline.expires_after(kRequestTimeout);
      deadline.async_wait([self](error_code ec) {
        if (ec) return;
        error_code ignored;
        self->socket.close(ignored);
      });
      asio::async_read_until(socket, in, '\n', [self](error_code ec, size_t n) { self->onRequest(ec, n); });
    }

    void onRequest(error_code ec, size_t n) {
      deadline.cancel();
      auto data = in.data();
      std::string request(asio::buffers_begin(data), asio::buffers_begin(data) + static_cast<ptrdiff_t>(ec ? in.size() : n));
      // A client that wrote its request and shut down its side without a newline is fine;
      // a timeout, an overlong line or a silent close gets nothing.
      if (ec && (ec != asio::error::eof || request.empty())) return;
      while (!request.empty() && (request.back() == '\n' || request.back() == '\r')) request.pop_back();
      reply = encodeReport(loop.handle(request)) + "\n";
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(reply), [self](error_code, size_t) {
        error_code ignored;
        self->socket.close(ignored);
      });
    }

    Impl& loop;
    Local::socket socket;
    asio::streambuf in;
    asio::steady_timer deadline;
    std::string reply;
  };

  asio::io_context ctx{1};
  Runtime& rt;
  const Clock& clock;
  Lifecycle lifecycle;
  Local::acceptor acceptor;
  asio::steady_timer accept_backoff;
  Descriptor signals;
  asio::steady_timer timer;
  Descriptor init_watch;
  Descriptor oom_watch;
  asio::steady_timer oom_pause;
  asio::steady_timer oom_retry;
  asio::steady_timer compute_timer;
  std::vector<std::shared_ptr<asio::steady_timer>> delayed;  // work posted with a delay
  pid_t watched_init = 0;
  bool done = false;
};

ControlLoop::ControlLoop(store::FleetStore& store, Runtime& runtime, const Clock& clock,
                         sys::UniqueFd listener, int signal_fd)
    : impl_(std::make_unique<Impl>(store, runtime, clock, std::move(listener), signal_fd)) {
  // The AI budget's writer thread hands its suspensions to this strand.
  runtime.setControlPoster([this](std::function<void()> work, std::chrono::milliseconds delay) {
    post([this, work = std::move(work), delay] {
      if (impl_->done) return;
      auto timer = std::make_shared<asio::steady_timer>(impl_->ctx, delay);
      impl_->delayed.push_back(timer);  // finish() cancels it
      timer->async_wait([this, timer, work](error_code e) {
        std::erase(impl_->delayed, timer);
        if (e || impl_->done) return;
        work();
        impl_->changed();  // it may have paused or stopped the sandbox
      });
    });
  });
}

ControlLoop::~ControlLoop() { impl_->rt.setControlPoster(nullptr); }

void ControlLoop::post(std::function<void()> work) { asio::post(impl_->ctx, std::move(work)); }

int ControlLoop::run() {
  Impl& l = *impl_;
  l.watched_init = l.rt.initPid();
  l.accept();
  l.watchSignals();
  l.watchInit();
  l.watchOom();
  l.scheduleCompute();
  l.schedule(l.clock.nowMs());
  l.ctx.run();
  return 0;
}

}  // namespace km::supervisor
