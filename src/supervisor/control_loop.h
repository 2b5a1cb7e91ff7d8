// The supervisor's control loop (private to supervisor): one Boost.Asio io_context run by the
// supervisor's main thread, so its handlers form the one control strand. On it: the signals
// that end the supervisor, the control socket (one request per connection, one report back),
// init's pidfd (its exit), the sandbox's memory events (OOM kills) and the lifecycle timer,
// set to the next moment the Lifecycle asks for. Runtime is touched only from here; other
// threads hand work over with post().
#pragma once

#include <functional>
#include <memory>

#include "core/clock.h"
#include "core/sys.h"
#include "store/store.h"

namespace km::supervisor {

class Runtime;

class ControlLoop {
 public:
  // `listener`: the listening control socket; `signal_fd`: a signalfd of SIGTERM, SIGINT and
  // SIGHUP (blocked in every thread), which end the supervisor and leave the sandbox running.
  ControlLoop(store::FleetStore& store, Runtime& runtime, const Clock& clock, sys::UniqueFd listener,
              int signal_fd);
  ~ControlLoop();
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  // Serves until the sandbox is destroyed, its row is gone, or a signal ends the supervisor.
  // Returns the supervisor's exit code.
  int run();

  // Runs `work` on the control strand (from any thread, also before run()).
  void post(std::function<void()> work);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace km::supervisor
