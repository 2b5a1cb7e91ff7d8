#include "supervisor/action_gate.h"

namespace km::supervisor {

StoreActionGate::StoreActionGate(std::string store_path, std::string sandbox_id,
                                 const std::vector<plan::ActionQuota>& quotas,
                                 std::function<void(std::string_view, const std::string&)> event,
                                 std::function<int64_t()> now_ms)
    : store_path_(std::move(store_path)), sandbox_id_(std::move(sandbox_id)), event_(std::move(event)),
      now_ms_(std::move(now_ms)) {
  for (const auto& q : quotas) limits_[q.action] = store::ActionLimit{q.lifetime, q.per_hour, q.per_day, q.on_breach};
  thread_ = std::thread([this] { run(); });
}

StoreActionGate::~StoreActionGate() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StoreActionGate::take(std::string action, std::function<void(Verdict)> done) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(std::move(action), std::move(done));
  }
  cv_.notify_one();
}

StoreActionGate::Verdict StoreActionGate::judge(store::ActionQuotas& quotas, const std::string& action) {
  auto it = limits_.find(action);
  store::ActionLimit limit = it != limits_.end() ? it->second : store::ActionLimit{};
  auto t = quotas.take(sandbox_id_, action, limit, now_ms_());
  if (!t) {
    // A store that cannot count refuses: a quota is a promise that more will not go out.
    return Verdict{false, "cannot count " + action + " against spec.limits: " + t.error().message()};
  }
  if (t->froze) event_("actions-frozen", t->reason);
  if (t->breached) event_("action-limit", t->reason + (t->allowed ? " (onBreach warn: let through)" : ""));
  if (!t->allowed) return Verdict{false, t->reason};
  return Verdict{true, t->breached ? t->reason : ""};
}

void StoreActionGate::run() {
  std::unique_ptr<store::ActionQuotas> quotas;
  std::string open_error;
  for (;;) {
    std::pair<std::string, std::function<void(Verdict)>> next;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!quotas && open_error.empty()) {
      auto opened = store::openSqliteActionQuotas(store_path_);
      if (opened) {
        quotas = std::move(*opened);
      } else {
        open_error = opened.error().message();
      }
    }
    Verdict v = quotas ? judge(*quotas, next.first)
                       : Verdict{false, "cannot count " + next.first + " against spec.limits: " + open_error};
    next.second(std::move(v));
  }
}

}  // namespace km::supervisor
