// A sandbox's AI budget as the proxy sees it (net::proxy::AiBudget), kept in the spend ledger.
// One writer thread owns the ledger connection and applies what the proxy's threads ask for
// in batches: everything queued while the last batch was being written goes into the next
// transaction (group commit), so a busy proxy records many calls per commit while each call
// still sees the ones before it (the limit is never passed). A reservation's and a
// settlement's answer runs after its batch's commit (a settled call survives a kill -9 of the
// supervisor); a release has none (a lost one is released again at the next start). The
// writer drains the queue before it stops. Private to the supervisor.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "net/proxy/proxy.h"
#include "store/ledger.h"

namespace km::supervisor {

// What the budget reports as it happens: a pool crossing its warning threshold, or used up
// (its limit reached, or a call declined because what is left, with no call in flight, pays
// for no call at all),
// kind "budget-warning" / "budget-exhausted", with one line of detail; each once per limit.
// Called on the writer thread after the commit that caused it, before that batch's callers
// go on.
// `limit`: the pool's limit when it happened (a top-up since makes a used-up pool usable).
using BudgetEvent = std::function<void(std::string_view kind, const std::string& detail, Micros limit)>;

// How budget notices and refusals say a pool's spend ("$0.80 of $1.00"), and the detail of
// a pool's budget-warning and of its budget-exhausted at the limit; `what` names the spend
// ("AI", "compute"). One wording for both pools.
std::string spentOf(const store::PoolState& pool);
std::string warningDetail(std::string_view what, const store::PoolState& pool);
std::string reachedDetail(std::string_view what, const store::PoolState& pool);

class LedgerBudget final : public net::proxy::AiBudget {
 public:
  // `ledger` holds the pool (setLimit done by the caller). `now_ms` stamps the events.
  LedgerBudget(std::unique_ptr<store::Ledger> ledger, std::string sandbox_id, BudgetEvent on_event,
               std::function<int64_t()> now_ms);
  ~LedgerBudget() override;  // writes what is queued, then stops the writer

  void reserve(Sizer size, std::function<void(net::proxy::Reservation)> done) override;
  void settle(int64_t hold, net::proxy::AiCall call, std::function<void()> done) override;
  void release(int64_t hold) override;
  void drain() override { flush(); }

  // Waits until everything queued before this call is written and answered.
  void flush();
  // The sandbox runs again (resumed or started, whatever topped up what): a pool still used
  // up is reported again at the next refusal, so the sandbox is suspended again.
  void rearm() override;

 private:
  struct Op;
  void run();
  // Applies one op inside the batch; an error only for a ledger failure that must undo the
  // batch (the op's own refusals are its result).
  struct Event {
    std::string kind, detail;
    Micros limit = 0;
  };
  Status apply(Op& op, std::vector<Event>& events);
  void submit(std::shared_ptr<Op> op);

  std::unique_ptr<store::Ledger> ledger_;  // the writer thread's alone
  std::string id_;
  BudgetEvent on_event_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
  std::condition_variable work_;  // the writer waits here for ops
  std::deque<std::shared_ptr<Op>> queue_;
  // The limit at which the pool was last reported used up (the writer's alone): one
  // "budget-exhausted" per limit.
  std::optional<Micros> exhausted_limit_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace km::supervisor
