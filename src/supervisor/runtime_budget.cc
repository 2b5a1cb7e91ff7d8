// Runtime: the sandbox's budgets on the control strand. Compute spend is the running time
// (unpaused) at the plan's hourly rate, charged to the compute pool a minute at a time and at
// every stop and pause; a pool used up (compute here, AI from the proxy's settlements)
// suspends the sandbox: paused with hibernation, else stopped; a locked one keeps running.
#include <utility>

#include "core/log.h"
#include "supervisor/ai_budget.h"
#include "supervisor/runtime.h"

namespace km::supervisor {

namespace {
constexpr std::string_view kLog = "km.supervisor";
constexpr int64_t kComputeChargeMs = 60'000;
}  // namespace

void Runtime::setControlPoster(Poster post) {
  std::lock_guard lock(post_mu_);
  post_ = std::move(post);
}

void Runtime::postControl(std::function<void()> work, std::chrono::milliseconds delay) {
  std::lock_guard lock(post_mu_);
  if (post_) post_(std::move(work), delay);
}

void Runtime::budgetNotice(std::string_view kind, const std::string& detail) {
  log::warn(kLog, plan_.id + ": " + std::string(kind) + ": " + detail);
  event(kind, detail);
}

Result<store::Ledger*> Runtime::ledger() {
  if (ledger_) return ledger_.get();
  if (store_path_.empty()) return internalError("no fleet database to keep the budget in");
  auto opened = store::openSqliteLedger(store_path_);
  if (!opened) return std::move(opened).error();
  if (!plan_.budget.compute_rate_basis.empty()) {
    auto pool = (*opened)->pool(plan_.id, store::Pool::kCompute);
    if (!pool) return std::move(pool).error();
    // Made once: a top-up (km budget add) outlives restarts.
    if (!*pool) {
      KM_TRY((*opened)->setLimit(plan_.id, store::Pool::kCompute, plan_.budget.compute_limit, plan_.budget.warning_threshold));
      pool = (*opened)->pool(plan_.id, store::Pool::kCompute);
      if (!pool) return std::move(pool).error();
    }
    compute_pool_ = *pool;
  }
  ledger_ = std::move(*opened);
  return ledger_.get();
}

void Runtime::computeRuns(bool runs) {
  if (plan_.budget.compute_rate_basis.empty()) return;
  if (!compute_) compute_.emplace(plan_.budget.compute_rate);
  int64_t now = store::nowMs();
  if (runs) {
    compute_->run(now);
    if (auto l = ledger(); !l) log::error(kLog, plan_.id + ": the compute budget cannot be read: " + l.error().message());
  } else {
    compute_->halt(now);
    (void)chargeCompute();  // what ran until now; a pool used up by it needs no suspension
  }
}

bool Runtime::chargeCompute() {
  if (!compute_) return false;
  auto l = ledger();
  if (!l) {
    log::error(kLog, plan_.id + ": charging compute time: " + l.error().message() + " (kept for the next charge)");
    return false;
  }
  // Taken only once the ledger is there: an unrecorded take would lose its time.
  Micros cost = compute_->take(store::nowMs());
  if (cost == 0) return false;
  store::UsageEvent e;
  e.sandbox_id = plan_.id;
  e.at_ms = store::nowMs();
  e.api = "compute";
  e.model = plan_.budget.compute_rate_basis;
  e.cost = cost;
  auto change = (*l)->charge(store::Pool::kCompute, e);
  if (!change) {
    log::error(kLog, plan_.id + ": charging $" + formatDollars(cost) + " of compute time: " + change.error().message());
    return false;
  }
  compute_pool_ = change->pool;
  if (change->crossed_warning) budgetNotice("budget-warning", warningDetail("compute", change->pool));
  if (change->reached_limit) budgetNotice("budget-exhausted", reachedDetail("compute", change->pool));
  return change->reached_limit;
}

std::optional<int64_t> Runtime::nextComputeCharge(int64_t now_ms) {
  if (!compute_ || !compute_->running() || compute_->perHour() == 0) return std::nullopt;
  int64_t next = now_ms + kComputeChargeMs;
  const std::optional<store::PoolState>& p = compute_pool_;
  if (p && p->capped() && p->spent < p->limit) {
    // The moment the pool is used up, and before it the moment spend crosses the warning
    // threshold (the warning comes on time too). A pool used up already (a locked sandbox
    // runs on) is charged a minute at a time.
    if (auto at = compute_->reaches(now_ms, p->limit - p->spent)) next = std::min(next, *at);
    __int128 warn = (static_cast<__int128>(p->limit) * p->warning_threshold + 999'999) / 1'000'000;
    if (!p->warned && warn > p->spent) {
      if (auto at = compute_->reaches(now_ms, static_cast<Micros>(warn - p->spent))) next = std::min(next, *at);
    }
  }
  return next;
}

void Runtime::unlocked() {
  if (ai_budget_) ai_budget_->rearm();
  if (computeUsedUp()) suspendForBudget(store::Pool::kCompute);
}

void Runtime::suspendForBudget(store::Pool pool, std::optional<Micros> limit) {
  std::string name(store::poolName(pool));
  std::string top_up = "raise it with `km budget add " + plan_.id + " --" + name + " USD`";
  if (!running() || paused()) return;
  if (limit) {
    // Topped up since it was used up (the AI suspension waits a few seconds): nothing to do.
    auto l = ledger();
    auto now = l ? (*l)->pool(plan_.id, pool) : Result<std::optional<store::PoolState>>(std::move(l).error());
    if (now && *now && (*now)->limit != *limit) return;
  }
  if (store_ != nullptr) {
    auto row = store_->get(plan_.id);
    if (row && *row && (*row)->locked) {
      // Said once: a used-up compute pool asks again at every charge while the lock holds.
      if (!std::exchange(skip_noted_[static_cast<int>(pool)], true)) {
        budgetNotice("budget-suspend-skipped", "the " + name + " budget is used up but the sandbox is locked: it keeps running" +
                                                   (pool == store::Pool::kAi ? " (its AI calls are refused)" : "") + "; " + top_up);
      }
      return;
    }
  }
  std::string why = "the " + name + " budget is used up";
  Status s = plan_.hibernation ? pause(why) : stop(why);
  if (!s) {
    log::error(kLog, plan_.id + ": suspending (" + why + "): " + s.error().message());
    return;
  }
  budgetNotice("suspended", why + ": " + (plan_.hibernation ? "paused (memory kept)" : "stopped (files kept)") + "; " + top_up +
                                " to resume it");
}

bool Runtime::computeUsedUp() const { return compute_pool_ && compute_pool_->exhausted(); }

std::string Runtime::budgetRefusesRunning() {
  if (plan_.budget.compute_rate_basis.empty()) return "";
  auto l = ledger();
  if (!l) return "";  // the budget cannot be read: not a reason to keep the sandbox down
  auto pool = (*l)->pool(plan_.id, store::Pool::kCompute);
  if (!pool || !*pool) return "";
  compute_pool_ = **pool;
  if (!(*pool)->exhausted()) return "";
  return "the compute budget is used up (" + spentOf(**pool) + "); raise it with `km budget add " + plan_.id +
         " --compute USD`, which resumes the sandbox";
}

}  // namespace km::supervisor
