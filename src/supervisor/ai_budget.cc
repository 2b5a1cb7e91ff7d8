#include "supervisor/ai_budget.h"

#include <limits>
#include <vector>

#include "core/log.h"

namespace km::supervisor {
namespace {

constexpr std::string_view kLog = "km.budget";

// A ledger failure that a batch must not keep half of.
bool undoes(const Error& e) {
  return e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kInvalidArgument;
}

}  // namespace

std::string spentOf(const store::PoolState& p) {
  return "$" + formatDollars(p.spent) + " of $" + formatDollars(p.limit);
}

std::string warningDetail(std::string_view what, const store::PoolState& p) {
  return std::string(what) + " spend " + spentOf(p) + " passed the warning threshold (" + formatRatio(p.warning_threshold) + ")";
}

std::string reachedDetail(std::string_view what, const store::PoolState& p) {
  return std::string(what) + " spend reached its limit: " + spentOf(p);
}

struct LedgerBudget::Op {
  enum class Kind { kReserve, kSettle, kRelease, kFlush, kRearm } kind = Kind::kFlush;
  Sizer size;
  int64_t hold = 0;
  store::UsageEvent event;
  // The answer, run after the batch's commit (null: nobody waits).
  std::function<void(net::proxy::Reservation)> reserved_done;
  std::function<void()> done;
  net::proxy::Reservation reserved;  // kReserve's result
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

void LedgerBudget::submit(std::shared_ptr<Op> op) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(op));
  work_.notify_one();
}

void LedgerBudget::flush() {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kFlush;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  op->done = [&] {
    std::lock_guard lock(m);
    done = true;
    cv.notify_one();
  };
  submit(op);
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
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
    std::vector<Event> events;
    const std::optional<Micros> exhausted_before = exhausted_limit_;
    Status st = ledger_->batch([&]() -> Status {
      for (auto& op : batch) KM_TRY(apply(*op, events));
      return ok();
    });
    if (!st) {
      // The batch was undone: each op again on its own, so one failure costs only its op.
      log::warn(kLog, id_ + ": a batch of " + std::to_string(batch.size()) + " budget writes failed (" +
                          st.error().message() + "); writing them one by one");
      events.clear();
      exhausted_limit_ = exhausted_before;
      for (auto& op : batch) {
        if (Status one = apply(*op, events); !one && op->kind == Op::Kind::kReserve) {
          op->reserved = {};
          op->reserved.refused = "the AI budget cannot be written (" + one.error().message() + "); calls are refused until it can";
        }
      }
    }
    // Before the waiters go on: whoever flushed after a crossing sees its event.
    for (const Event& e : events) {
      if (on_event_) on_event_(e.kind, e.detail, e.limit);
    }
    for (auto& op : batch) {
      if (op->reserved_done) op->reserved_done(std::move(op->reserved));
      if (op->done) op->done();
    }
  }
}

Status LedgerBudget::apply(Op& op, std::vector<Event>& events) {
  switch (op.kind) {
    case Op::Kind::kFlush:
      return ok();
    case Op::Kind::kRearm:
      exhausted_limit_.reset();
      return ok();
    case Op::Kind::kReserve: {
      op.reserved = {};
      auto pool = ledger_->pool(id_, store::Pool::kAi);
      if (!pool) {
        if (undoes(pool.error())) return pool.error();
        op.reserved.refused = "the AI budget cannot be read (" + pool.error().message() + "); calls are refused until it can";
        return ok();
      }
      if (*pool && (*pool)->exhausted()) {
        op.reserved.refused = "the sandbox's AI budget is used up (" + spentOf(**pool) + "); raise it with `km budget add " +
                              id_ + " --ai USD`";
        return ok();
      }
      Size sized = op.size(*pool ? (*pool)->available() : std::numeric_limits<Micros>::max());
      if (!sized.hold) {
        // Declined (its caller knows why); when what is left pays for no call at all, the
        // pool is as good as used up: said once per limit (a top-up may make it so again).
        // Calls in flight hold money they may give back: not used up while any runs.
        if (sized.used_up && *pool && (*pool)->reserved == 0 && exhausted_limit_ != (*pool)->limit) {
          exhausted_limit_ = (*pool)->limit;
          events.push_back({"budget-exhausted", "AI spend " + spentOf(**pool) + ": the $" +
                                                    formatDollars((*pool)->available()) + " left pays for no call",
                            (*pool)->limit});
        }
        return ok();
      }
      std::optional<Micros> amount = sized.hold;
      auto r = ledger_->reserve(id_, store::Pool::kAi, *amount, now_ms_());
      if (!r) {
        log::warn(kLog, id_ + ": reserving $" + formatDollars(*amount) + ": " + r.error().message());
        if (undoes(r.error())) return r.error();
        op.reserved.refused = "the AI budget cannot be held (" + r.error().message() + ")";
        return ok();
      }
      if (*r) {
        op.reserved.hold = (*r)->id;
      } else {
        op.reserved.refused = "the sandbox's AI budget is held by calls in flight; try again when they end";
      }
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
        events.push_back({"budget-warning", warningDetail("AI", c->pool), c->pool.limit});
      }
      if (c->reached_limit && exhausted_limit_ != c->pool.limit) {
        exhausted_limit_ = c->pool.limit;
        events.push_back({"budget-exhausted", reachedDetail("AI", c->pool), c->pool.limit});
      }
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

void LedgerBudget::reserve(Sizer size, std::function<void(net::proxy::Reservation)> done) {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kReserve;
  op->size = std::move(size);
  op->reserved_done = std::move(done);
  submit(std::move(op));
}

void LedgerBudget::settle(int64_t hold, net::proxy::AiCall call, std::function<void()> done) {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kSettle;
  op->hold = hold;
  store::UsageEvent& e = op->event;
  e.at_ms = now_ms_();
  e.provider = std::string(meter::providerName(call.provider));
  e.api = std::string(meter::apiName(call.api));
  e.model = std::move(call.model);
  e.request_id = std::move(call.request_id);
  e.input_tokens = call.usage.input_tokens;
  e.output_tokens = call.usage.output_tokens;
  e.cache_write_5m_tokens = call.usage.cache_write_5m_tokens;
  e.cache_write_1h_tokens = call.usage.cache_write_1h_tokens;
  e.cache_read_tokens = call.usage.cache_read_tokens;
  e.reasoning_tokens = call.usage.reasoning_tokens;
  e.web_search_requests = call.usage.web_search_requests;
  e.cost = call.cost;
  e.note = std::move(call.note);
  if (!e.note.empty()) log::info(kLog, id_ + ": " + e.model + " charged $" + formatDollars(e.cost) + " (" + e.note + ")");
  op->done = std::move(done);
  submit(std::move(op));
}

void LedgerBudget::rearm() {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kRearm;
  submit(std::move(op));
}

void LedgerBudget::release(int64_t hold) {
  auto op = std::make_shared<Op>();
  op->kind = Op::Kind::kRelease;
  op->hold = hold;
  submit(std::move(op));
}

}  // namespace km::supervisor
