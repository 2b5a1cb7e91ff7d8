// Runtime: the sandbox's network. net::SandboxNetwork sets it up (veth, addresses, host
// rules, the eBPF gate or the sandbox's nftables, the facts file) or reopens it after a
// supervisor restart; the DataPlane it feeds runs the resolver and the HTTP proxy.
#include "audit/exec_audit.h"
#include "audit/redact.h"
#include "core/fs.h"
#include "core/log.h"
#include "net/net.h"
#include "net/proxy/proxy.h"
#include "net/secret_file.h"
#include "net/service.h"
#include "net/host_rule.h"
#include "store/ledger.h"
#include "supervisor/action_gate.h"
#include "supervisor/ai_budget.h"
#include "supervisor/runtime.h"

namespace km::supervisor {

namespace {
constexpr std::string_view kLog = "km.supervisor";
// Long enough for an agent to get the refusal and say why: Codex tries a refused call five times
// (about 8 s) before it gives up with the message.
constexpr std::chrono::milliseconds kAiSuspendDelay{15000};
}  // namespace

Status Runtime::runNetwork(net::SandboxNetwork network, pid_t init_pid) {
  // Read once (operator secrets come from their files): the proxy swaps them, the logs redact them.
  std::vector<net::proxy::MaskedSecret> secrets = maskedSecrets();
  std::optional<net::proxy::Options> proxy;
  if (net::servesProxy(plan_.network.enforcement)) {
    // The sandbox's CA (made at its first start, in its directory on the host) signs the
    // leaves of the TLS the proxy terminates.
    auto ca = net::proxy::ensureSandboxCa(net::proxy::sandboxCaDir(files().dir));
    if (!ca) return std::move(ca).error();
    proxy = network.proxyOptions(plan_.network, net::proxy::sandboxCaDir(files().dir));  // before takeGate
    if (plan_.network.ai_providers) {
      auto m = metering();
      if (!m) return std::move(m).error().context("metering AI calls");
      proxy->metering = std::move(*m);
    }
    proxy->secrets = secrets;
    if (!store_path_.empty()) {
      if (!action_gate_) {
        std::string store_path = store_path_, id = plan_.id;
        auto on_event = [store_path, id](std::string_view kind, const std::string& detail) {
          log::warn(kLog, id + ": " + std::string(kind) + ": " + detail);
          if (auto st = store::openSqlite(store_path); st) (void)(*st)->addEvent(id, kind, detail);
        };
        action_gate_ = std::make_unique<StoreActionGate>(store_path_, plan_.id, plan_.quotas, on_event,
                                                         [] { return store::nowMs(); });
      }
      proxy->actions = action_gate_.get();
    }
    if (plan_.source.enforced) {
      auto source = sourceAccess();
      if (!source) return std::move(source).error();
      proxy->source = std::move(*source);
    }
  }
  DataPlane::Logs logs;
  logs.network_path = files().network_log;
  logs.command_path = files().command_log;
  logs.limits = plan_.logs.rotation();  // operator config logs.*, recorded at create
  logs.redactor = redactor(secrets);
  auto plane = DataPlane::open(network.takeGate(), logs);
  if (!plane) return std::move(plane).error();
  KM_TRY((*plane)->startResolver(network.resolverOptions(plan_.network)));
  if (proxy) KM_TRY((*plane)->startProxy(std::move(*proxy)));
  startExecAudit(**plane, init_pid);
  data_plane_ = std::move(*plane);
  return ok();
}

std::vector<net::proxy::MaskedSecret> Runtime::maskedSecrets() const {
  std::vector<net::proxy::MaskedSecret> out;
  for (const auto& s : plan_.secrets) {
    net::proxy::MaskedSecret m{s.name, s.sentinel, s.value, {}};
    for (const auto& h : s.hosts) m.hosts.push_back(net::canonicalName(h));
    if (!s.file.empty()) {
      // An operator secret: read at each start (a rotated key is used from then on). One that
      // cannot be read leaves its sentinel refused everywhere, said in the log.
      auto value = net::readSecretValue(s.file, kmHome());
      if (value) {
        m.value = std::move(*value);
      } else {
        log::error(kLog, plan_.id + ": secret " + s.name + " cannot be used: " + value.error().message());
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

Result<net::proxy::SourceAccess> Runtime::sourceAccess() const {
  net::proxy::SourceAccess a;
  a.allowed_repos = plan_.source.allowed_repos;
  a.allowed_refs = plan_.source.allowed_refs;
  a.allow_ref_deletion = plan_.source.allow_ref_deletion;
  if (!plan_.source.api_url.empty()) a.api_url = plan_.source.api_url;
  a.app_id = plan_.source.app_id;
  for (const auto& i : plan_.source.installations) a.installations.emplace_back(i.owner, i.id);
  a.token_file = plan_.source.token_file;
  a.km_home = kmHome();
  if (a.app_id > 0) {
    auto pem = net::readSecretFile(plan_.source.private_key_file, a.km_home, 64 << 10);
    if (!pem) return std::move(pem).error().context("operator config github.privateKeyFile");
    a.private_key_pem = std::move(*pem);
  }
  return a;
}

std::shared_ptr<const audit::Redactor> Runtime::redactor(const std::vector<net::proxy::MaskedSecret>& secrets) const {
  // The profile's secret-looking environment values are redacted wherever they show up, and
  // so are masked secrets, real values and sentinels alike.
  std::vector<std::string> literals;
  for (const auto& [name, value] : plan_.env) {
    if (audit::secretLookingName(name)) literals.push_back(value);
  }
  for (const auto& s : secrets) {
    literals.push_back(s.sentinel);
    if (!s.value.empty()) literals.push_back(s.value);
  }
  return std::make_shared<const audit::Redactor>(std::move(literals));
}

void Runtime::startExecAudit(DataPlane& plane, pid_t init_pid) {
  std::string cgroup = sandbox_->networkPlacement().cgroup_v2_dir;
  auto level = audit::pidNamespaceLevel(init_pid);
  Status started = cgroup.empty() ? unavailable("the host has no cgroup v2 hierarchy to attach it to")
                   : !level       ? Status(std::move(level).error())
                                  : [&]() -> Status {
                                      auto audit = audit::ExecAudit::load(*level);
                                      if (!audit) return std::move(audit).error();
                                      return plane.startExecAudit(std::move(*audit), cgroup);
                                    }();
  // A sandbox runs without its command log rather than not at all; the log says so.
  if (!started) log::warn(kLog, plan_.id + ": commands are not audited: " + started.error().message());
}

Result<net::proxy::Metering> Runtime::metering() {
  net::proxy::Metering m;
  m.prices = meter::PriceTable::builtin();
  if (!plan_.metering.pricing_yaml.empty()) {
    auto overrides = meter::PriceTable::parse(plan_.metering.pricing_yaml, plan_.metering.pricing_origin);
    if (!overrides) return std::move(overrides).error();
    m.prices = m.prices.overriddenBy(*overrides);
  }
  for (const auto& e : plan_.metering.endpoints) {
    auto provider = meter::providerFromName(e.provider);
    std::string host = net::canonicalName(e.host);
    if (provider && !host.empty()) m.endpoints.emplace_back(std::move(host), *provider);
  }
  m.bedrock_credentials_file = plan_.metering.bedrock_credentials_file;
  if (!plan_.metering.bedrock_profile.empty()) m.bedrock_profile = plan_.metering.bedrock_profile;
  if (!store_path_.empty()) m.km_home = fs::dirName(store_path_);  // KM_HOME/fleet.db
  if (!ai_budget_) {
    if (store_path_.empty()) return internalError("no fleet database to keep the AI budget in");
    auto ledger = store::openSqliteLedger(store_path_);
    if (!ledger) return std::move(ledger).error();
    auto pool = (*ledger)->pool(plan_.id, store::Pool::kAi);
    if (!pool) return std::move(pool).error();
    // Made once: a top-up (km budget add) outlives restarts.
    if (!*pool) KM_TRY((*ledger)->setLimit(plan_.id, store::Pool::kAi, plan_.budget.ai_limit, plan_.budget.warning_threshold));
    // Calls of a supervisor before this one ended with it.
    if (auto freed = (*ledger)->releaseAll(plan_.id); freed && *freed > 0) {
      log::info(kLog, plan_.id + ": released " + std::to_string(*freed) + " AI reservation(s) of calls that ended with the last supervisor");
    }
    std::string store_path = store_path_, id = plan_.id;
    auto on_event = [this, store_path, id](std::string_view kind, const std::string& detail, Micros limit) {
      // On the budget's writer thread: a store connection of its own (rare: twice per budget
      // at most); the suspension is the control strand's to do.
      log::warn(kLog, id + ": " + std::string(kind) + ": " + detail);
      if (auto st = store::openSqlite(store_path); st) (void)(*st)->addEvent(id, kind, detail);
      // A few seconds later: the call refused for it gets its answer (and the agent says why)
      // before the sandbox stops.
      if (kind == "budget-exhausted") postControl([this, limit] { suspendForBudget(store::Pool::kAi, limit); }, kAiSuspendDelay);
    };
    ai_budget_ = std::make_unique<LedgerBudget>(std::move(*ledger), plan_.id, on_event, [] { return store::nowMs(); });
  }
  ai_budget_->rearm();  // (re)started: a used-up pool suspends again
  m.budget = ai_budget_.get();
  return m;
}

Status Runtime::startNetwork(pid_t init_pid, std::string& resolv_conf) {
  if (plan_.network.dns_upstreams.empty()) {
    log::warn(kLog, plan_.id + ": no DNS upstream (dns.upstream in the operator config, or a nameserver in "
                    "the host's /etc/resolv.conf): allowed names will get SERVFAIL");
  }
  auto network = net::SandboxNetwork::setUp(plan_.network, init_pid, sandbox_->networkPlacement());
  if (!network) return std::move(network).error();
  resolv_conf = network->resolvConf();
  return runNetwork(std::move(*network), init_pid);
}

Status Runtime::resumeNetwork() {
  auto network = net::SandboxNetwork::reopen(plan_.network, running_.init_pid, sandbox_->networkPlacement());
  if (!network && network.error().code() == ErrorCode::kNotFound) return ok();  // stopped, or made before networking
  if (!network) return std::move(network).error();
  return runNetwork(std::move(*network), running_.init_pid);
}

void Runtime::stopNetwork() {
  data_plane_.reset();
  if (auto s = net::SandboxNetwork::remove(sandbox_->networkPlacement()); !s) log::warn(kLog, plan_.id + ": " + s.error().message());
  // The veth goes with the sandbox's network namespace (deleting it here would block).
}

}  // namespace km::supervisor
