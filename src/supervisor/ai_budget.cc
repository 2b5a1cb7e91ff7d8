#include "supervisor/ai_budget.h"

#include <limits>
#include <vector>

#include "core/log.h"

namespace km::supervisor {
namespace {

constexpr std::string_view kLog = "km.budget";

std::string spentOf(const store::PoolState& p) {
  return "$" + formatDollars(p.spent) + " of $" + formatDollars(p.limit);
}

// A ledger failure that a batch must not keep half of.
bool undoes(const Error& e) {
  return e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kInvalidArgument;
}

}  // namespace

struct LedgerBudget::Op {
  enum class Kind { kPool, kReserve, kSettle, kRelease, kFlush } kind = Kind::kPool;
  Micros amount = 0;
  int64_t hold = 0;
  store::UsageEvent event;
  // Results, valid once done.
  bool done = false;
  std::optional<int64_t> reserved;
  Result<std::optional<store::PoolState>> pool = std::optional<store::PoolState>();
};

LedgerBudget::LedgerBudget(std::unique_ptr<store::Ledger> ledger, std::string sandbox_id, BudgetEvent on_event,
                           std::function<int64_t()> now_ms)
    : ledger_(std::move(ledger)), id_(std::move(sandbox_id)), on_event_(std::move(on_event)), now_ms_(std::move(now_ms)) {
  writer_ = std::thread([this] { run(); });
}

LedgerBudget::~LedgerBudget() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  writer_.join();
}

void LedgerBudget::submit(std::shared_ptr<Op> op, bool wait) {
  std::unique_lock lock(mu_);
  queue_.push_back(op);
  work_.notify_one();  // the writer only
  if (wait) done_.wait(lock, [&] { return op->done; });
}

void LedgerBudget::flush() {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kFlush;
  submit(op, true);
}

void LedgerBudget::run() {
  for (;;) {
    std::deque<std::shared_ptr<Op>> batch;
    {
      std::unique_lock lock(mu_);
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything written
      batch.swap(queue_);
    }
    std::vector<std::pair<std::string, std::string>> events;
    Status st = ledger_->batch([&]() -> Status {
      for (auto& op : batch) KM_TRY(apply(*op, events));
      return ok();
    });
    if (!st) {
      // The batch was undone: each op again on its own, so one failure costs only its op.
      log::warn(kLog, id_ + ": a batch of " + std::to_string(batch.size()) + " budget writes failed (" +
                          st.error().message() + "); writing them one by one");
      events.clear();
      for (auto& op : batch) (void)apply(*op, events);
    }
    // Before the waiters go on: whoever flushed after a crossing sees its event.
    for (const auto& [kind, detail] : events) {
      if (on_event_) on_event_(kind, detail);
    }
    {
      std::lock_guard lock(mu_);
      for (auto& op : batch) op->done = true;
    }
    done_.notify_all();
  }
}

Status LedgerBudget::apply(Op& op, std::vector<std::pair<std::string, std::string>>& events) {
  switch (op.kind) {
    case Op::Kind::kFlush:
      return ok();
    case Op::Kind::kPool: {
      op.pool = ledger_->pool(id_, store::Pool::kAi);
      if (!op.pool && undoes(op.pool.error())) return op.pool.error();
      return ok();
    }
    case Op::Kind::kReserve: {
      auto r = ledger_->reserve(id_, store::Pool::kAi, op.amount, now_ms_());
      op.reserved.reset();
      if (!r) {
        log::warn(kLog, id_ + ": reserving $" + formatDollars(op.amount) + ": " + r.error().message());
        if (undoes(r.error())) return r.error();
        return ok();
      }
      if (*r) op.reserved = (*r)->id;
      return ok();
    }
    case Op::Kind::kSettle: {
      auto c = ledger_->settle(op.hold, op.event);
      if (!c) {
        if (undoes(c.error())) return c.error();
        log::error(kLog, id_ + ": recording an AI call of $" + formatDollars(op.event.cost) + ": " + c.error().message());
        return ok();
      }
      if (c->crossed_warning) {
        events.emplace_back("budget-warning", "AI spend " + spentOf(c->pool) + " passed the warning threshold (" +
                                                  formatRatio(c->pool.warning_threshold) + ")");
      }
      if (c->reached_limit) events.emplace_back("budget-exhausted", "AI spend reached its limit: " + spentOf(c->pool));
      return ok();
    }
    case Op::Kind::kRelease: {
      auto s = ledger_->release(op.hold);
      if (!s && undoes(s.error())) return s.error();
      return ok();
    }
  }
  return ok();
}

std::string LedgerBudget::blocked() {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kPool;
  submit(op, true);
  if (!op->pool) return "the AI budget cannot be read (" + op->pool.error().message() + "); calls are refused until it can";
  if (*op->pool && (*op->pool)->exhausted()) {
    return "the sandbox's AI budget is used up (" + spentOf(**op->pool) + "); raise it with `km budget add " + id_ +
           " --ai USD`";
  }
  return "";
}

Micros LedgerBudget::available() {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kPool;
  submit(op, true);
  if (!op->pool) return 0;  // fail closed
  return *op->pool ? (*op->pool)->available() : std::numeric_limits<Micros>::max();
}

std::optional<int64_t> LedgerBudget::reserve(Micros amount) {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kReserve;
  op->amount = amount;
  submit(op, true);
  return op->reserved;
}

void LedgerBudget::settle(int64_t hold, const net::proxy::AiCall& call) {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kSettle;
  op->hold = hold;
  store::UsageEvent& e = op->event;
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
  if (!call.note.empty()) log::info(kLog, id_ + ": " + call.model + " charged $" + formatDollars(call.cost) + " (" + call.note + ")");
  // Waits for its commit: a settled call survives the supervisor's kill -9.
  submit(op, true);
}

void LedgerBudget::release(int64_t hold) {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kRelease;
  op->hold = hold;
  submit(op, false);
}

}  // namespace km::supervisor
