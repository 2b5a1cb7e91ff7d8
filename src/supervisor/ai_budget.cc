#include "supervisor/ai_budget.h"

#include <limits>

#include "core/log.h"

namespace km::supervisor {
namespace {

constexpr std::string_view kLog = "km.budget";

std::string spentOf(const store::PoolState& p) {
  return "$" + formatDollars(p.spent) + " of $" + formatDollars(p.limit);
}

}  // namespace

LedgerBudget::LedgerBudget(std::unique_ptr<store::Ledger> ledger, std::string sandbox_id, BudgetEvent on_event,
                           std::function<int64_t()> now_ms)
    : ledger_(std::move(ledger)), id_(std::move(sandbox_id)), on_event_(std::move(on_event)), now_ms_(std::move(now_ms)) {}

std::string LedgerBudget::blocked() {
  std::lock_guard lock(mu_);
  auto p = ledger_->pool(id_, store::Pool::kAi);
  if (!p) return "the AI budget cannot be read (" + p.error().message() + "); calls are refused until it can";
  if (*p && (*p)->exhausted()) {
    return "the sandbox's AI budget is used up (" + spentOf(**p) + "); raise it with `km budget add " + id_ +
           " --ai USD`";
  }
  return "";
}

Micros LedgerBudget::available() {
  std::lock_guard lock(mu_);
  auto p = ledger_->pool(id_, store::Pool::kAi);
  if (!p) return 0;  // fail closed
  return *p ? (*p)->available() : std::numeric_limits<Micros>::max();
}

std::optional<int64_t> LedgerBudget::reserve(Micros amount) {
  std::lock_guard lock(mu_);
  auto r = ledger_->reserve(id_, store::Pool::kAi, amount, now_ms_());
  if (!r) {
    log::warn(kLog, id_ + ": reserving $" + formatDollars(amount) + ": " + r.error().message());
    return std::nullopt;
  }
  if (!*r) return std::nullopt;
  return (*r)->id;
}

void LedgerBudget::settle(int64_t hold, const net::proxy::AiCall& call) {
  store::UsageEvent e;
  e.at_ms = now_ms_();
  e.provider = std::string(meter::providerName(call.provider));
  e.api = std::string(meter::apiName(call.api));
  e.model = call.model;
  e.request_id = call.request_id;
  e.input_tokens = call.usage.input_tokens;
  e.output_tokens = call.usage.output_tokens;
  e.cache_write_5m_tokens = call.usage.cache_write_5m_tokens;
  e.cache_write_1h_tokens = call.usage.cache_write_1h_tokens;
  e.cache_read_tokens = call.usage.cache_read_tokens;
  e.reasoning_tokens = call.usage.reasoning_tokens;
  e.web_search_requests = call.usage.web_search_requests;
  e.cost = call.cost;
  e.note = call.note;
  std::lock_guard lock(mu_);
  auto c = ledger_->settle(hold, std::move(e));
  if (!c) {
    log::error(kLog, id_ + ": recording an AI call of $" + formatDollars(call.cost) + ": " + c.error().message());
    return;
  }
  if (!call.note.empty()) log::info(kLog, id_ + ": " + call.model + " charged $" + formatDollars(call.cost) + " (" + call.note + ")");
  if (c->crossed_warning && on_event_) {
    on_event_("budget-warning", "AI spend " + spentOf(c->pool) + " passed the warning threshold (" +
                                    formatRatio(c->pool.warning_threshold) + ")");
  }
  if (c->reached_limit && on_event_) on_event_("budget-exhausted", "AI spend reached its limit: " + spentOf(c->pool));
}

void LedgerBudget::release(int64_t hold) {
  std::lock_guard lock(mu_);
  if (auto s = ledger_->release(hold); !s && s.error().code() != ErrorCode::kNotFound) {
    log::warn(kLog, id_ + ": releasing reservation " + std::to_string(hold) + ": " + s.error().message());
  }
}

}  // namespace km::supervisor
