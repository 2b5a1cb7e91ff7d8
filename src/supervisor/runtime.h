// One supervised sandbox's runtime state and the actions on it (private to supervisor).
// Each action updates the fleet store and records an event.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/fs.h"
#include "core/result.h"
#include "core/sys.h"
#include "net/net.h"
#include "net/proxy/proxy.h"
#include "plan/plan.h"
#include "store/ledger.h"
#include "store/store.h"
#include "substrate/substrate.h"
#include "supervisor/compute_clock.h"
#include "supervisor/lifecycle.h"
#include "supervisor/data_plane.h"

namespace km::supervisor {

class Runtime final : public LifecycleTarget {
 public:
  // `store` is null while a freshly forked supervisor builds a new sandbox: the creating CLI
  // writes its row and records the start (status, pids, "created"); attachStore() hands the
  // store over once the sandbox is ready, and every later action records itself.
  // `sandbox`: the plan's sandbox on its substrate.
  Runtime(store::FleetStore* store, plan::SandboxPlan plan, std::unique_ptr<substrate::Sandbox> sandbox);
  void attachStore(store::FleetStore* store) { store_ = store; }
  // The fleet database, where the spend ledger is (AI calls of a sandbox with an AI budget are
  // metered against it).
  void useLedger(std::string store_path) { store_path_ = std::move(store_path); }
  // A start staged before the plan arrived; the next start() uses it.
  void useStaged(std::unique_ptr<substrate::Staged> staged) { staged_ = std::move(staged); }
  uint64_t initStart() const { return running_.init_start; }

  // Moves this process into the sandbox's supervisor cgroup (made when missing): the
  // supervisor's work for the sandbox is charged to it, within limits of its own.
  [[nodiscard]] Status enterSupervisorCgroup();
  // Starts the sandbox (cgroups, namespaces, init); on first start also writes config files
  // and runs initCommands. A new sandbox's disk and user are made here (a clone's came with
  // km clone); a later start finds them. Leaves status running.
  [[nodiscard]] Status start(bool first_start);
  // Takes over a sandbox whose init still runs, after its supervisor died (`km supervise`):
  // records this process as its supervisor and an "adopted" event.
  [[nodiscard]] Status adopt(pid_t init_pid, uint64_t init_start);
  [[nodiscard]] Status stop(std::string_view reason) override;
  [[nodiscard]] Status pause(std::string_view reason = "");
  [[nodiscard]] Status thaw();
  // Ends everything and removes the sandbox's files and row (Sandbox::teardown). After
  // a failure the row stays `destroying`; running it again (here, `km destroy`, `km doctor
  // --fix`) finishes the job.
  [[nodiscard]] Status destroy(std::string_view reason) override;
  // A first start() that failed with `e`: keeps the sandbox's logs in its failed-logs
  // directory (keepFailedLogs; start's error names the init log there), then destroys it.
  // Returns `e`, with a note when the logs could not be kept.
  [[nodiscard]] Error failCreate(Error e);
  // After init exited by itself: records how (and an OOM kill that ended it), cleans up and
  // marks the sandbox stopped.
  void initExited();
  // Records OOM kills inside (event "oom-kill" and a warning) when the sandbox's cgroup
  // counted more since the last record. Called on the cgroup's memory events and at each
  // lifecycle look, where at most one record a minute is made (it counts every kill since
  // the last), and with `now` before the cgroup goes (stop, destroy, init's exit). Returns
  // when kills it held back by that limit may be recorded; nullopt when none wait.
  std::optional<int64_t> checkOomKills(bool now = false);

  bool running() const override { return running_.valid(); }
  bool paused() const { return sandbox_->paused(); }
  // CPU time, processes and network bytes of the running sandbox (all 0 when stopped).
  ActivitySample sample() override;
  int initPidfd() const { return init_pidfd_.get(); }
  const substrate::Sandbox& sandbox() const { return *sandbox_; }
  const plan::SandboxPlan& plan() const { return plan_; }
  const substrate::SandboxFiles& files() const { return sandbox_->files(); }
  pid_t initPid() const { return running_.init_pid; }

  // Budgets (runtime_budget.cc). Work from other threads (the AI budget's writer) reaches
  // the control strand through `post` (run after the delay), set by the control loop (null:
  // dropped).
  using Poster = std::function<void(std::function<void()>, std::chrono::milliseconds)>;
  void setControlPoster(Poster post);
  // Charges the compute pool for the running time since the last charge (a sandbox whose
  // profile has a compute budget); true when that used the pool up.
  bool chargeCompute();
  // When the next compute charge is due (wall ms): a minute on, or sooner at the moment the
  // pool would be used up; nullopt when no running time is counted now.
  std::optional<int64_t> nextComputeCharge(int64_t now_ms);
  // A pool is used up: the sandbox is paused (spec.runtime.hibernation: memory kept) or
  // stopped (files kept), not destroyed; a locked sandbox keeps running (its AI calls are
  // refused). Recorded as a "suspended" event naming `km budget add`. `limit`: the pool's
  // limit when it was used up; a pool topped up since is not suspended for.
  void suspendForBudget(store::Pool pool, std::optional<Micros> limit = std::nullopt);
  // Whether the compute pool was used up at the last charge (a locked sandbox runs on; it is
  // suspended when unlocked).
  bool computeUsedUp() const;
  // The sandbox was unlocked: a used-up compute pool suspends it now, and a used-up AI pool
  // at its next refused call.
  void unlocked();
  // Why the sandbox may not be started or resumed now (its compute budget is used up); ""
  // when it may.
  std::string budgetRefusesRunning();

 private:
  [[nodiscard]] Status runInitCommands();
  [[nodiscard]] Status setStatus(store::SandboxStatus status, bool started);
  void event(std::string_view kind, std::string_view detail);
  void publishInit();
  // The sandbox's network (runtime_net.cc): net::SandboxNetwork sets it up or reopens it,
  // the DataPlane runs the resolver service on it; stopNetwork stops the services and
  // undoes what outlives the init (pins, net file).
  [[nodiscard]] Status startNetwork(pid_t init_pid, std::string& resolv_conf);
  [[nodiscard]] Status resumeNetwork();
  void stopNetwork();
  [[nodiscard]] Status runNetwork(net::SandboxNetwork network, pid_t init_pid);
  // The exec audit on the sandbox's cgroup (a warning in the log when it cannot run).
  void startExecAudit(DataPlane& plane, pid_t init_pid);
  // The audit logs' redactor: the built-in patterns, the plan's secret-looking env values and
  // `secrets`: the masked secrets (maskedSecrets()), real values and sentinels alike.
  std::shared_ptr<const audit::Redactor> redactor(const std::vector<net::proxy::MaskedSecret>& secrets) const;
  // The proxy's AI metering for a sandbox with an AI budget: prices, endpoints, the ledger
  // (its pool made on the first start; reservations of a dead supervisor released).
  [[nodiscard]] Result<net::proxy::Metering> metering();
  // The plan's masked secrets with their real values (operator secrets read from their files).
  std::vector<net::proxy::MaskedSecret> maskedSecrets() const;
  // spec.sourceAccess and the operator's GitHub credentials (the App's key read now).
  [[nodiscard]] Result<net::proxy::SourceAccess> sourceAccess() const;
  // KM_HOME (where the fleet database is); "" when there is none.
  std::string kmHome() const { return store_path_.empty() ? "" : fs::dirName(store_path_); }
  // The control thread's ledger connection (opened on first use), with the compute pool made
  // once.
  [[nodiscard]] Result<store::Ledger*> ledger();
  // The sandbox runs (or stopped running): the compute clock follows, charging what ran.
  void computeRuns(bool runs);
  // A budget notice (warning, used up, suspended): the sandbox's history and the supervisor
  // log. The one place later notification channels (Slack, email) hook into.
  void budgetNotice(std::string_view kind, const std::string& detail);
  void postControl(std::function<void()> work, std::chrono::milliseconds delay);

  store::FleetStore* store_;
  plan::SandboxPlan plan_;
  std::unique_ptr<substrate::Sandbox> sandbox_;
  substrate::Running running_;  // invalid while stopped
  sys::UniqueFd init_pidfd_;
  std::unique_ptr<substrate::Staged> staged_;
  std::string store_path_;
  // Declared before the AI budget: its writer thread posts through them until it ends.
  std::mutex post_mu_;
  Poster post_;
  // The AI budget the proxy charges; declared before the data plane, which it must outlive.
  std::unique_ptr<net::proxy::AiBudget> ai_budget_;
  std::unique_ptr<net::proxy::ActionGate> action_gate_;  // spec.limits, outlives the proxy
  std::unique_ptr<DataPlane> data_plane_;  // the network's services and what they share
  std::unique_ptr<store::Ledger> ledger_;  // the control thread's; see ledger()
  std::optional<ComputeClock> compute_;    // a profile with a compute budget
  std::optional<store::PoolState> compute_pool_;  // as the last charge left it
  bool skip_noted_[2] = {false, false};  // a locked sandbox's budget-suspend-skipped said, by pool

  // OOM kills of the current cgroup already recorded (a start makes a new cgroup: 0).
  int64_t oom_kills_seen_ = 0;
  int64_t last_oom_event_ms_ = 0;  // when the last oom-kill event was recorded
  static constexpr int64_t kOomEventIntervalMs = 60 * 1000;
};

}  // namespace km::supervisor
