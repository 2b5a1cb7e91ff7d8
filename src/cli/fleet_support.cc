#include "cli/fleet_support.h"

#include <unistd.h>

#include <climits>

#include "cli/cli.h"
#include "cli/output.h"
#include "core/money.h"
#include "doc/json_io.h"
#include "config/config.h"
#include "plan/plan.h"

namespace km::cli {

fleet::Env fleetEnv(Context& ctx) {
  fleet::Env env;
  env.km_home = ctx.globals().home;
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  env.km_binary = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "km";
  env.global_args = {"--home", env.km_home};
  if (!ctx.globals().config_path.empty()) {
    env.global_args.insert(env.global_args.end(), {"--config", ctx.globals().config_path});
  }
  return env;
}

std::optional<fleet::Env> creatingEnv(Context& ctx) {
  fleet::Env env = fleetEnv(ctx);
  const config::Config* cfg = ctx.config();  // effective: defaults filled in
  if (cfg == nullptr) return std::nullopt;
  if (!cfg->disk) return env;
  env.disk.store = cfg->disk->store.value_or("auto");
  if (cfg->disk->size) {
    auto bytes = plan::parseMemoryBytes(*cfg->disk->size);
    if (!bytes) {
      printErr("ERROR: operator config disk.size: " + bytes.error().message());
      return std::nullopt;
    }
    env.disk.store_bytes = *bytes;
  }
  return env;
}

void warnUnenforcedDisks(Context& ctx) {
  fleet::HostLimits host = fleet::hostLimits(fleetEnv(ctx));
  if (host.disk_unenforced_known) {
    printErr("warning: disk limits are " + host.disk + " (see `km doctor`, docs/sandbox.md)");
  }
}

int printFailure(const Error& e) {
  printErr("ERROR: " + e.message());
  return kExitFailed;
}

std::unique_ptr<store::Ledger> openLedger(Context& ctx) {
  auto l = store::openSqliteLedger(ctx.globals().home + "/fleet.db");
  if (!l) {
    printFailure(l.error());
    return nullptr;
  }
  return std::move(*l);
}

std::string spendLine(const store::PoolState& p) {
  if (!p.capped()) return "$" + formatDollars(p.spent) + " spent, no cap";
  // Percent with one decimal, rounded down (never shows 100% before it is).
  __int128 tenths = static_cast<__int128>(p.spent) * 1000 / p.limit;
  std::string pct = std::to_string(static_cast<int64_t>(tenths / 10)) + "." + std::to_string(static_cast<int64_t>(tenths % 10));
  return "$" + formatDollars(p.spent) + " / $" + formatDollars(p.limit) + " (" + pct + "%)";
}

std::unique_ptr<store::FleetStore> openFleet(Context& ctx) {
  auto s = fleet::openStore(ctx.globals().home);
  if (!s) {
    printFailure(s.error());
    return nullptr;
  }
  return std::move(*s);
}

namespace {

class LazyStore : public store::FleetStore {
 public:
  explicit LazyStore(std::string home) : home_(std::move(home)) {}
  Result<store::SandboxRecord> insert(store::SandboxRecord r) override {
    KM_TRY(open());
    return s_->insert(std::move(r));
  }
  Result<std::optional<store::SandboxRecord>> get(std::string_view id) override {
    KM_TRY(open());
    return s_->get(id);
  }
  Result<store::SandboxRecord> resolve(std::string_view ref) override {
    KM_TRY(open());
    return s_->resolve(ref);
  }
  Result<std::vector<store::SandboxRecord>> list() override {
    KM_TRY(open());
    return s_->list();
  }
  Result<store::SandboxRecord> modify(std::string_view id,
                                      const std::function<Status(store::SandboxRecord&)>& f) override {
    KM_TRY(open());
    return s_->modify(id, f);
  }
  Status remove(std::string_view id) override {
    KM_TRY(open());
    return s_->remove(id);
  }
  Status addEvent(std::string_view id, std::string_view kind, std::string_view detail,
                  int64_t at_ms) override {
    KM_TRY(open());
    return s_->addEvent(id, kind, detail, at_ms);
  }
  Result<std::vector<store::Event>> events(std::string_view id, size_t limit) override {
    KM_TRY(open());
    return s_->events(id, limit);
  }

 private:
  Status open() {
    if (s_) return ok();
    auto s = fleet::openStore(home_);
    if (!s) return std::move(s).error();
    s_ = std::move(*s);
    return km::ok();
  }
  std::string home_;
  std::unique_ptr<store::FleetStore> s_;
};

}  // namespace

std::unique_ptr<store::FleetStore> lazyFleet(Context& ctx) {
  return std::make_unique<LazyStore>(ctx.globals().home);
}

std::optional<store::SandboxRecord> resolveOrPrint(store::FleetStore& store, const std::string& ref) {
  auto r = store.resolve(ref);
  if (!r) {
    printFailure(r.error());
    return std::nullopt;
  }
  return *r;
}

std::string displayStatus(const store::SandboxRecord& r, const fleet::Health& h) {
  using S = store::SandboxStatus;
  std::string s(store::statusName(r.status));
  bool should_run = r.status == S::kRunning || r.status == S::kPaused;
  if (should_run && !h.init_alive) return "lost";
  if (!h.supervisor_alive && r.status != S::kFailed) s += " (unsupervised)";
  return s;
}

std::string shortDuration(int64_t ms) {
  if (ms <= 0) return "-";
  int64_t s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  int64_t m = s / 60;
  if (m < 60) return std::to_string(m) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  int64_t h = m / 60;
  if (h < 48) return std::to_string(h) + "h" + (m % 60 ? std::to_string(m % 60) + "m" : "");
  return std::to_string(h / 24) + "d" + (h % 24 ? std::to_string(h % 24) + "h" : "");
}

namespace {

std::string isoTime(int64_t ms) {
  if (ms <= 0) return "";
  time_t t = static_cast<time_t>(ms / 1000);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

doc::Node str(const std::string& s) { return doc::Node::string(s); }
doc::Node num(int64_t v) { return doc::Node::integer(v); }

}  // namespace

doc::Node statusJson(store::FleetStore& store, const store::SandboxRecord& r, store::Ledger* ledger) {
  fleet::Health h = fleet::health(r);
  int64_t now = store::nowMs();
  doc::Node o = doc::Node::map();
  o.set("id", str(r.id));
  o.set("alias", r.alias ? str(*r.alias) : doc::Node::null());
  o.set("number", num(r.number));
  o.set("profile", str(r.profile_name));
  o.set("substrate", str(r.substrate));
  o.set("region", str(r.region));
  o.set("status", str(std::string(store::statusName(r.status))));
  o.set("health", str(h.summary));
  o.set("locked", doc::Node::boolean(r.locked));
  o.set("createdAt", str(isoTime(r.created_at_ms)));
  o.set("ttlExpiry", r.ttl_deadline_ms ? str(isoTime(r.ttl_deadline_ms)) : doc::Node::null());
  o.set("uptimeSeconds", num(r.started_at_ms ? (now - r.started_at_ms) / 1000 : 0));
  o.set("idleTimeoutSeconds", num(r.idle_timeout_s));
  o.set("lastActivity", str(isoTime(r.last_activity_ms)));
  o.set("clonedFrom", r.cloned_from ? str(*r.cloned_from) : doc::Node::null());
  doc::Node sup = doc::Node::map();
  sup.set("pid", num(r.supervisor_pid));
  sup.set("alive", doc::Node::boolean(h.supervisor_alive));
  o.set("supervisor", sup);
  doc::Node init = doc::Node::map();
  init.set("pid", num(r.init_pid));
  init.set("alive", doc::Node::boolean(h.init_alive));
  o.set("init", init);
  auto stored = plan::fromJson(r.plan_json, "the stored plan of " + r.id);
  {
    if (auto& p = stored) {
      doc::Node res = doc::Node::map();
      res.set("cpuMillis", num(p->resources.cpu_millis));
      res.set("memoryBytes", num(p->resources.memory_bytes));
      res.set("pids", num(p->resources.pids));
      res.set("source", str(p->resources.source));
      res.set("diskBytes", num(p->resources.disk_bytes));
      res.set("diskSource", str(p->resources.disk_source));
      if (!p->resources.volume_mount.empty()) {
        res.set("volumeBytes", num(p->resources.volume_bytes));
        res.set("volumeMount", str(p->resources.volume_mount));
      }
      o.set("resources", res);
      o.set("teardownPolicy", str(std::string(plan::teardownPolicyName(p->teardown_policy))));
    }
  }
  if (ledger) {
    doc::Node budget = doc::Node::map();
    for (store::Pool pool : {store::Pool::kAi, store::Pool::kCompute}) {
      auto p = ledger->pool(r.id, pool);
      if (!p || !*p) {
        budget.set(std::string(store::poolName(pool)), doc::Node::null());
        continue;
      }
      doc::Node b = doc::Node::map();
      b.set("limitUSD", doc::Node::number(formatDollars((*p)->limit)));
      b.set("spentUSD", doc::Node::number(formatDollars((*p)->spent)));
      b.set("reservedUSD", doc::Node::number(formatDollars((*p)->reserved)));
      b.set("warningThreshold", doc::Node::number(formatRatio((*p)->warning_threshold)));
      b.set("warned", doc::Node::boolean((*p)->warned));
      if (pool == store::Pool::kCompute && stored && !stored->budget.compute_rate_basis.empty()) {
        // What an hour of running costs, fixed at create.
        b.set("ratePerHourUSD", doc::Node::number(formatDollars(stored->budget.compute_rate)));
        b.set("rateBasis", str(stored->budget.compute_rate_basis));
      }
      budget.set(std::string(store::poolName(pool)), b);
    }
    o.set("budget", budget);
    doc::Node by = doc::Node::seq();
    if (auto models = ledger->spendByModel(r.id)) {
      for (const auto& m : *models) {
        doc::Node e = doc::Node::map();
        e.set("provider", str(m.provider));
        e.set("model", str(m.model));
        e.set("calls", num(m.calls));
        e.set("inputTokens", num(m.input_tokens));
        e.set("outputTokens", num(m.output_tokens));
        e.set("cacheWrite5mTokens", num(m.cache_write_5m_tokens));
        e.set("cacheWrite1hTokens", num(m.cache_write_1h_tokens));
        e.set("cacheReadTokens", num(m.cache_read_tokens));
        e.set("reasoningTokens", num(m.reasoning_tokens));
        e.set("webSearchRequests", num(m.web_search_requests));
        e.set("costUSD", doc::Node::number(formatDollars(m.cost)));
        by.push(e);
      }
    }
    doc::Node spend = doc::Node::map();
    spend.set("byModel", by);
    o.set("spend", spend);
  }
  // The newest five, oldest first, as the text view's "Recent events".
  doc::Node events = doc::Node::seq();
  if (auto evs = store.events(r.id, 5)) {
    for (const auto& e : *evs) {
      doc::Node ev = doc::Node::map();
      ev.set("time", str(isoTime(e.at_ms)));
      ev.set("kind", str(e.kind));
      ev.set("detail", str(e.detail));
      events.push(ev);
    }
  }
  o.set("recentEvents", events);
  return o;
}

std::string isoTimeUtc(int64_t ms) { return isoTime(ms); }

}  // namespace km::cli
