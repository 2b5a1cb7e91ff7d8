// A sandbox's AI budget as the proxy sees it (net::proxy::AiBudget), kept in the spend ledger:
// every reservation and settlement is one ledger transaction, so the proxy's threads (and any
// other process using the ledger) can never together pass the pool's limit. Private to the
// supervisor. Thread-safe (one ledger connection behind a mutex).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "net/proxy/proxy.h"
#include "store/ledger.h"

namespace km::supervisor {

// What the budget reports as it happens: a pool crossing its warning threshold or reaching
// its limit (kind "budget-warning" / "budget-exhausted"), with one line of detail.
using BudgetEvent = std::function<void(std::string_view kind, const std::string& detail)>;

class LedgerBudget final : public net::proxy::AiBudget {
 public:
  // `ledger` holds the pool (setLimit done by the caller). `now_ms` stamps the events.
  LedgerBudget(std::unique_ptr<store::Ledger> ledger, std::string sandbox_id, BudgetEvent on_event,
               std::function<int64_t()> now_ms);

  std::string blocked() override;
  Micros available() override;
  std::optional<int64_t> reserve(Micros amount) override;
  void settle(int64_t hold, const net::proxy::AiCall& call) override;
  void release(int64_t hold) override;

 private:
  std::mutex mu_;
  std::unique_ptr<store::Ledger> ledger_;
  std::string id_;
  BudgetEvent on_event_;
  std::function<int64_t()> now_ms_;
};

}  // namespace km::supervisor
