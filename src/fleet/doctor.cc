#include <set>

#include "fleet/fleet.h"
#include "fleet/substrates.h"
#include "net/nft.h"
#include "supervisor/supervisor.h"

namespace km::fleet {

using S = store::SandboxStatus;

HostLimits hostLimits(const Env& env) { return detail::homeSubstrate(env)->host(); }

Result<std::vector<Finding>> doctor(const Env& env, store::FleetStore& store, bool fix) {
  std::vector<Finding> out;
  auto home = detail::homeSubstrate(env);
  if (fix) KM_TRY(home->requireAccess("km doctor --fix"));
  auto rows = store.list();
  if (!rows) return std::move(rows).error();
  std::set<std::string> known;
  for (const auto& r : *rows) {
    known.insert(r.id);
    Health h = health(r);
    Finding f{r.id, "", "", false};
    if (r.status == S::kCreating || r.status == S::kDestroying || r.status == S::kFailed) {
      if (h.supervisor_alive) continue;  // a create or destroy is in progress
      f.problem = "left " + std::string(store::statusName(r.status)) + " by a process that died";
      if (fix) {
        Status s = ok();
        (void)store.modify(r.id, [](store::SandboxRecord& x) -> Status {
          x.locked = false;  // an unfinished sandbox holds nothing worth a lock
          return ok();
        });
        s = destroy(env, store, r.id);
        f.fixed = static_cast<bool>(s);
        f.action = s ? "removed it" : "removing failed: " + s.error().message();
      }
    } else if (!h.supervisor_alive) {
      f.problem = h.init_alive ? "supervisor is not running (the sandbox still runs, unsupervised)"
                  : r.status == S::kStopped ? "supervisor is not running (stopped sandbox; TTL not enforced)"
                                            : "supervisor and sandbox processes are gone";
      if (fix) {
        auto where = detail::substrateNamed(env, r.substrate);
        Status s = !where ? Status(where.error())
                          : supervisor::spawn(env.km_binary, env.global_args, r.id, (*where)->files(r.id).supervisor_log);
        f.fixed = static_cast<bool>(s);
        f.action = !s ? "restart failed: " + s.error().message()
                   : h.init_alive ? "started a new supervisor; it adopted the running sandbox"
                   : r.status == S::kStopped ? "started a new supervisor"
                                             : "started a new supervisor; it restarted the sandbox";
      }
    } else if ((r.status == S::kRunning || r.status == S::kPaused) && !h.init_alive) {
      f.problem = "the store says " + std::string(store::statusName(r.status)) + " but its processes are gone";
      if (fix) {
        Status s = resume(env, store, r.id);
        f.fixed = static_cast<bool>(s);
        f.action = s ? "restarted it" : "restart failed: " + s.error().message();
      }
    } else {
      continue;
    }
    out.push_back(std::move(f));
  }
  // The host rules every sandbox's network relies on: missing (deleted by hand, a firewall
  // reload) or another km version's. Without the privilege to look, nothing is said.
  if (!known.empty()) {
    if (auto current = net::hostRulesPresent(); current && !*current) {
      Finding f{"nftables table inet km", "the host rules are missing or another km version's", "", false};
      if (fix) {
        Status s = net::ensureHostRules();
        f.fixed = static_cast<bool>(s);
        f.action = s ? "installed this km's rules" : "installing failed: " + s.error().message();
      }
      out.push_back(std::move(f));
    }
  }
  // What the substrate holds for sandboxes the store does not know.
  for (substrate::Leftover& l : home->leftovers(known, fix)) {
    out.push_back({std::move(l.subject), std::move(l.problem), std::move(l.action), l.fixed});
  }
  return out;
}

}  // namespace km::fleet
