// The proxy's action gate over the fleet store (private to the supervisor): spec.limits'
// quotas judged and counted by store::ActionQuotas on a thread of the gate's own (a commit never
// blocks a proxy thread), each breach and freeze written to the sandbox's events.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "net/proxy/proxy.h"
#include "plan/plan.h"
#include "store/action_quotas.h"

namespace km::supervisor {

class StoreActionGate final : public net::proxy::ActionGate {
 public:
  // `event(kind, detail)` runs on the gate's thread for a breach ("action-limit") or a freeze
  // ("actions-frozen"). `now_ms` stamps the windows.
  StoreActionGate(std::string store_path, std::string sandbox_id, const std::vector<plan::ActionQuota>& quotas,
                  std::function<void(std::string_view, const std::string&)> event, std::function<int64_t()> now_ms);
  ~StoreActionGate() override;  // answers what is queued, then stops the thread

  void take(std::string action, std::function<void(Verdict)> done) override;

 private:
  void run();
  Verdict judge(store::ActionQuotas& quotas, const std::string& action);

  std::string store_path_, sandbox_id_;
  std::map<std::string, store::ActionLimit> limits_;
  std::function<void(std::string_view, const std::string&)> event_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::function<void(Verdict)>>> queue_;  // guarded by mu_
  bool stopping_ = false;                                                   // guarded by mu_
  std::thread thread_;
};

}  // namespace km::supervisor
