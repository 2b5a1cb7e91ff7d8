// km create, km list|ls, km status — making sandboxes and looking at them.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <tuple>

#include "cli/actions.h"
#include "cli/agent_run.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "cli/sops_bundle.h"
#include "core/fs.h"
#include "core/money.h"
#include "core/strings.h"
#include "core/sys.h"
#include "doc/json_io.h"
#include "doc/yaml_io.h"
#include "image/choose.h"
#include "image/pin.h"
#include "meter/meter.h"
#include "net/secret_file.h"
#include "net/sigv4.h"
#include "profile/profile.h"
#include "supervisor/supervisor.h"

namespace km::cli {
namespace {

struct CreateArgs {
  std::string profile;
  std::optional<std::string> alias, substrate, ttl, idle, output, image;
  bool dry_run = false;
  AgentRunOptions agent;  // --prompt: an agent run once created
};

// Package managers the profile's initCommands call that this host lacks.
std::vector<std::string> missingPackageManagers(const profile::Profile& prof) {
  std::vector<std::string> missing;
  for (const auto& cmd : prof.spec.execution.init_commands) {
    for (std::string_view tool : {"dnf", "yum", "apt-get", "apt", "apk", "zypper"}) {
      size_t at = cmd.find(tool);
      bool word = at != std::string::npos && (at == 0 || std::string(" ;&|(").find(cmd[at - 1]) != std::string::npos) &&
                  (at + tool.size() == cmd.size() || cmd[at + tool.size()] == ' ');
      if (!word || std::find(missing.begin(), missing.end(), tool) != missing.end()) continue;
      if (!fs::exists("/usr/bin/" + std::string(tool)) && !fs::exists("/bin/" + std::string(tool))) {
        missing.emplace_back(tool);
      }
    }
  }
  return missing;
}

// The sandbox's root: --image, spec.runtime.image, runtime.ami through the operator's table,
// or the host's own; an image must be pulled already. The error is one line saying what to
// pull or set.
Result<plan::ImagePlan> chooseRoot(const CreateArgs& a, const profile::Profile& prof, const config::Config& eff,
                                   const std::string& home) {
  image::ChooseInput in;
  in.flag = a.image;
  in.profile_image = prof.spec.runtime.image;
  in.ami = prof.spec.runtime.ami;
  for (const auto& [k, v] : image::defaultAmiImages()) in.ami_images[k] = v;
  if (eff.images) {
    for (const auto& [k, v] : eff.images->ami) in.ami_images[k] = v;
  }
  auto release = fs::readFile("/etc/os-release", 64 << 10);
  in.host = image::parseOsRelease(release ? *release : "");
  in.missing_tools = missingPackageManagers(prof);
  auto choice = image::chooseImage(in);
  if (!choice) return std::move(choice).error();
  plan::ImagePlan out;
  out.why = choice->why;
  if (choice->host) return out;
  image::Store store(home);
  auto found = store.find(choice->image);
  if (!found) return std::move(found).error().context(choice->why);
  if (!*found && a.dry_run) {
    // Shown, not started: the plan names the image and says it is missing.
    out.name = choice->image;
    out.why += " (not pulled: km image pull " + choice->image + ")";
    return out;
  }
  if (!*found) {
    return notFound(choice->why + ": image " + choice->image + " is not pulled; run `km image pull " + choice->image +
                    "`" + (choice->os.empty() ? "" : ", or map " + choice->os + " to another image in the operator config's images.ami"));
  }
  out.name = choice->image;
  out.id = (*found)->id;
  out.layers = (*found)->layers;
  out.on_host = (*found)->on_host;
  out.os = (*found)->os.pretty_name;
  if (auto dirs = store.lowerDirs(**found); !dirs) return std::move(dirs).error();
  return out;
}

int runCreate(const CreateArgs& a, Context& ctx) {
  if (a.output && !a.dry_run) {
    printErr("ERROR: -o/--output formats the --dry-run plan; add --dry-run, or use --json for the new "
             "sandbox's status object");
    return kExitUsage;
  }
  // Fork the supervisor now, while this process is small; it waits for the plan.
  std::optional<supervisor::Prepared> prepared;
  if (!a.dry_run) {
    auto p = supervisor::Prepared::fork();
    if (!p) return printFailure(p.error());
    prepared.emplace(std::move(*p));
  }
  const config::Config* cfg = ctx.config();
  if (!cfg) return kExitFailed;
  profile::LoadOptions lo;
  auto paths = ctx.searchPaths();
  if (!paths) return kExitUsage;
  lo.search_paths = *paths;
  auto loaded = profile::load(a.profile, lo);
  if (!loaded) {
    attachToError("validation", validationReport(a.profile, loaded));
    return printFailure(loaded.error());
  }
  if (!loaded->ok() || loaded->abstract) {
    attachToError("validation", validationReport(a.profile, loaded));
    printDiagnostics(loaded->diagnostics, a.profile);
    if (loaded->abstract) printErr("ERROR: " + a.profile + " is an abstract fragment (metadata.abstract); create from a profile that extends it");
    printErr("ERROR: " + a.profile + " is not a valid profile; nothing was created");
    return kExitFailed;
  }
  profile::Profile prof = profile::withDefaults(loaded->profile);
  plan::CompileOptions co;
  // The SOPS bundle, decrypted here on the host (its values never pass through the sandbox).
  auto bundle = readBundle(prof.spec, loaded->source, *cfg);
  if (!bundle) {
    printErr("ERROR: " + bundle.error().message());
    return kExitUsage;
  }
  co.bundle = std::move(*bundle);
  config::Config eff = config::effective(*cfg);
  // Held until the sandbox is in the fleet database: km image prune keeps its layers.
  std::optional<image::LayerPin> pin;
  if (!a.dry_run && fs::isDirectory(ctx.globals().home + "/images")) {
    auto p = image::pinLayers(ctx.globals().home);
    if (!p) return printFailure(p.error());
    pin = std::move(*p);
  }
  auto root = chooseRoot(a, prof, eff, ctx.globals().home);
  if (!root) {
    printErr("ERROR: " + root.error().message());
    return root.error().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  co.image = std::move(*root);
  co.id = plan::newSandboxId(prof.metadata.prefix.value_or("sb"));
  co.alias = a.alias;
  co.substrate = a.substrate;
  co.ttl = a.ttl;
  co.idle_timeout = a.idle;
  co.default_substrate = eff.default_substrate.value_or("local");
  if (eff.dns) co.dns_upstreams = eff.dns->upstream;
  if (eff.network) {
    co.subnet_pool = eff.network->subnet_pool.value_or(config::kDefaultSubnetPool);
    co.allowed_cidrs = eff.network->allow_cidrs;
  }
  if (eff.ai) {
    for (const auto& e : eff.ai->endpoints) co.ai_endpoints.push_back({e.host, e.provider});
  }
  if (eff.pricing && eff.pricing->file) {
    // Read now and kept in the plan: a running sandbox's prices do not change under it.
    std::string path = fs::absolutePath(fs::expandHome(*eff.pricing->file));
    auto text = fs::readFile(path);
    if (!text) {
      printErr("ERROR: operator config pricing.file: " + text.error().message());
      return kExitUsage;
    }
    if (auto table = meter::PriceTable::parse(*text, path); !table) {
      printErr("ERROR: operator config pricing.file: " + table.error().message());
      return kExitUsage;
    }
    co.pricing_yaml = std::move(*text);
    co.pricing_origin = path;
  }
  if (eff.ai && eff.ai->bedrock && eff.ai->bedrock->credentials_file) {
    // Checked now (readable, where no sandbox sees it, the profile there); read again by the
    // proxy each time it counts, so rotated keys are picked up.
    std::string path = fs::absolutePath(fs::expandHome(*eff.ai->bedrock->credentials_file));
    std::string profile = eff.ai->bedrock->profile.value_or("default");
    if (auto creds = net::readAwsCredentialsFile(path, profile, ctx.globals().home); !creds) {
      printErr("ERROR: operator config ai.bedrock.credentialsFile: " + creds.error().message());
      return kExitUsage;
    }
    co.bedrock_credentials_file = path;
    co.bedrock_profile = profile;
  }
  // Operator secrets and GitHub credentials: checked now (readable, where no sandbox sees
  // them); read again by each supervisor start, so rotated ones are picked up.
  for (const auto& secret : eff.secrets) {
    std::string path = fs::absolutePath(fs::expandHome(secret.file));
    auto value = net::readSecretValue(path, ctx.globals().home);
    if (!value) {
      printErr("ERROR: operator config secrets (" + secret.name + "): " + value.error().message());
      return kExitUsage;
    }
    co.operator_secrets.push_back({secret.name, path, secret.hosts, std::string(plan::knownKeyPrefix(*value))});
  }
  if (eff.github) {
    co.github.api_url = eff.github->api_url.value_or(config::kDefaultGithubApiUrl);
    co.github.app_id = eff.github->app_id.value_or(0);
    for (const auto& i : eff.github->installations) co.github.installations.push_back({i.owner, i.id});
    for (auto [field, from, to] : {std::tuple{"privateKeyFile", &eff.github->private_key_file, &co.github.private_key_file},
                                   std::tuple{"tokenFile", &eff.github->token_file, &co.github.token_file}}) {
      if (!*from) continue;
      std::string path = fs::absolutePath(fs::expandHome(**from));
      if (auto text = net::readSecretFile(path, ctx.globals().home); !text) {
        printErr(std::string("ERROR: operator config github.") + field + ": " + text.error().message());
        return kExitUsage;
      }
      *to = path;
    }
  }
  if (eff.proxy) co.proxy_connect_ports = eff.proxy->connect_ports;
  if (eff.tls && eff.tls->extra_ca_file) co.tls_extra_ca_file = fs::absolutePath(fs::expandHome(*eff.tls->extra_ca_file));
  auto log_bytes = plan::parseMemoryBytes(eff.logs->max_file_size.value_or(config::kDefaultLogFileSize));
  if (!log_bytes) {
    printErr("ERROR: operator config logs.maxFileSize: " + log_bytes.error().message());
    return kExitUsage;
  }
  co.logs.max_file_bytes = *log_bytes;
  co.logs.max_files = eff.logs->max_files.value_or(config::kDefaultLogFiles);
  co.host_cpus = sys::onlineCpus();
  co.host_memory_bytes = sys::totalMemoryBytes();
  auto p = plan::compile(prof, co);
  if (!p) {
    printErr("ERROR: " + p.error().message());
    return p.error().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  if (a.dry_run) {
    doc::Node n = plan::toNode(plan::withoutSecretValues(*p));
    bool json = ctx.globals().json || a.output.value_or("") == "json";
    printOut(json ? doc::toJson(n) : doc::emitYaml(n));
    return kExitOk;
  }
  if (!p->substrate_note.empty()) printErr(p->substrate_note);
  if (p->budget.compute_rate_basis.find("not in the price table") != std::string::npos) {
    printErr("WARNING: compute time is charged at $" + formatDollars(p->budget.compute_rate) + "/h, the price table's default: " +
             p->budget.compute_rate_basis + "; add its rate to the operator config's pricing.file (compute.instances)");
  }
  if (p->substrate != plan::Substrate::kLocal) {
    printErr("ERROR: substrate " + std::string(plan::substrateName(p->substrate)) + " cannot create sandboxes in this build");
    return kExitFailed;
  }
  auto store = lazyFleet(ctx);
  fleet::CreateInput in;
  in.plan = *p;
  in.prepared = prepared ? &*prepared : nullptr;
  in.profile_name = a.profile;
  in.profile_yaml = [&prof] { return doc::emitYaml(profile::toNode(prof)); };
  in.meanwhile = [&ctx] { warnUnenforcedDisks(ctx); };
  auto env = creatingEnv(ctx);
  if (!env) return kExitFailed;
  auto rec = fleet::create(*env, *store, in);
  if (!rec) {
    return printFailure(rec.error());
  }
  if (!a.agent.prompt.empty()) {
    printErr(rec->id);  // stdout is the run's
    AgentRunOptions o = a.agent;
    o.json = ctx.globals().json;
    return startAgentRun(ctx, *store, *rec, o);
  }
  printOut(ctx.globals().json ? doc::toJson(statusJson(*store, *rec)) : rec->id);
  return kExitOk;
}

struct ListArgs {
  bool wide = false;
};

std::string pad(const std::string& s, size_t w) { return s.size() >= w ? s + " " : s + std::string(w - s.size() + 1, ' '); }

// The SPEND column: each pool with a cap as spent/limit ("ai $0.42/$1.00"), "-" when none.
std::string spendCell(store::Ledger& ledger, const std::string& id) {
  std::string out;
  for (store::Pool pool : {store::Pool::kAi, store::Pool::kCompute}) {
    auto p = ledger.pool(id, pool);
    if (!p || !*p) continue;
    if (!out.empty()) out += " ";
    out += std::string(store::poolName(pool)) + " $" + formatDollars((*p)->spent) +
           ((*p)->capped() ? "/$" + formatDollars((*p)->limit) : "");
  }
  return out.empty() ? "-" : out;
}

int runList(const ListArgs& a, Context& ctx) {
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto rows = store->list();
  if (!rows) return printFailure(rows.error());
  int64_t now = store::nowMs();
  // The ledger only when a view shows spend (the JSON and --wide).
  std::unique_ptr<store::Ledger> ledger;
  if (ctx.globals().json || a.wide) {
    ledger = openLedger(ctx);
    if (!ledger) return kExitFailed;
  }
  if (ctx.globals().json) {
    doc::Node arr = doc::Node::seq();
    for (const auto& r : *rows) arr.push(statusJson(*store, r, ledger.get()));
    printOut(doc::toJson(arr));
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table;
  if (a.wide) {
    table.push_back({"#", "ALIAS", "SANDBOX ID", "PROFILE", "SUBSTRATE", "REGION", "STATUS", "TTL",
                     "IDLE", "UP", "SPEND", "CLONED FROM"});
  } else {
    table.push_back({"#", "ALIAS", "SANDBOX ID", "STATUS", "TTL", "UP"});
  }
  for (const auto& r : *rows) {
    fleet::Health h = fleet::health(r);
    std::string status = displayStatus(r, h) + (r.locked ? " 🔒" : "");
    std::string ttl = r.ttl_deadline_ms ? shortDuration(r.ttl_deadline_ms - now) : "-";
    std::string up = r.started_at_ms ? shortDuration(now - r.started_at_ms) : "-";
    std::string alias = r.alias.value_or("-");
    if (a.wide) {
      std::string idle = r.idle_timeout_s > 0 && r.last_activity_ms
                             ? shortDuration(now - r.last_activity_ms) + "/" + shortDuration(r.idle_timeout_s * 1000)
                             : "-";
      table.push_back({std::to_string(r.number), alias, r.id, r.profile_name, r.substrate,
                       r.region.empty() ? "-" : r.region, status, ttl, idle, up, spendCell(*ledger, r.id),
                       r.cloned_from.value_or("-")});
    } else {
      table.push_back({std::to_string(r.number), alias, r.id, status, ttl, up});
    }
  }
  printColumns(table);
  return kExitOk;
}

int runStatus(const std::string& ref, Context& ctx) {
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto r = resolveOrPrint(*store, ref);
  if (!r) return kExitFailed;
  auto ledger = openLedger(ctx);
  if (!ledger) return kExitFailed;
  doc::Node j = statusJson(*store, *r, ledger.get());
  auto stored_plan = plan::fromJson(r->plan_json, "the stored plan of " + r->id);
  j.set("actions", actionsJson(ctx.globals().home, r->id, stored_plan ? stored_plan->quotas : std::vector<plan::ActionQuota>{}));
  if (ctx.globals().json) {
    printOut(doc::toJson(j));
    return kExitOk;
  }
  fleet::Health h = fleet::health(*r);
  int64_t now = store::nowMs();
  auto line = [](std::string label, const std::string& value) {
    printOut(pad(label + ":", 16) + value);
  };
  line("Sandbox ID", r->id);
  line("Alias", r->alias.value_or("-"));
  line("Number", "#" + std::to_string(r->number));
  line("Profile", r->profile_name);
  line("Substrate", r->substrate);
  line("Region", r->region.empty() ? "-" : r->region);
  line("Status", displayStatus(*r, h) + (r->locked ? " (locked)" : ""));
  if (!h.summary.empty()) line("Health", h.summary);
  line("Created At", j.find("createdAt") ? j.find("createdAt")->text() : "");
  line("TTL Expiry", r->ttl_deadline_ms ? j.find("ttlExpiry")->text() + " (in " + shortDuration(r->ttl_deadline_ms - now) + ")" : "never");
  line("Uptime", r->started_at_ms ? shortDuration(now - r->started_at_ms) : "-");
  line("Idle", r->idle_timeout_s > 0 ? "timeout " + shortDuration(r->idle_timeout_s * 1000) + ", last activity " + shortDuration(now - r->last_activity_ms) + " ago" : "no idle timeout");
  if (const doc::Node* res = j.find("resources")) {
    fleet::HostLimits hl = fleet::hostLimits(fleetEnv(ctx));
    auto val = [&](const char* k) { return res->find(k) ? res->find(k)->text() : "0"; };
    int64_t cpu = std::stoll(val("cpuMillis")), mem = std::stoll(val("memoryBytes")), pids = std::stoll(val("pids"));
    line("Resources", std::to_string(cpu / 1000) + "." + std::to_string(cpu % 1000 / 100) + " CPU (" + hl.cpu +
                          "), " + std::to_string(mem >> 20) + " MiB memory (" + hl.memory + "), " +
                          std::to_string(pids) + " pids (" + hl.pids + ")");
    line("  From", val("source"));
    int64_t disk = std::stoll(val("diskBytes")), volume = std::stoll(val("volumeBytes"));
    line("Disk", std::to_string(disk >> 20) + " MiB (" + (hl.disk_enforced ? "quota" : "not enforced") + "), from " +
                     val("diskSource"));
    if (volume > 0) line("Volume", std::to_string(volume >> 20) + " MiB at " + val("volumeMount"));
    line("Teardown", j.find("teardownPolicy") ? j.find("teardownPolicy")->text() : "-");
  }
  line("Supervisor", "pid " + std::to_string(r->supervisor_pid) + (h.supervisor_alive ? " (running)" : " (not running)"));
  // Budget: each pool as upstream shows it, then the AI spend by model.
  auto ai = ledger->pool(r->id, store::Pool::kAi);
  auto compute = ledger->pool(r->id, store::Pool::kCompute);
  if ((ai && *ai) || (compute && *compute)) {
    printOut("Budget:");
    for (auto [label, p] : {std::pair{"AI", &ai}, std::pair{"Compute", &compute}}) {
      if (!*p || !**p) continue;
      const store::PoolState& s = ***p;
      std::string rate;
      if (const doc::Node* b = j.find("budget"); p == &compute && b != nullptr) {
        const doc::Node* c = b->find("compute");
        if (c != nullptr && c->find("ratePerHourUSD") != nullptr) {
          rate = " at $" + c->find("ratePerHourUSD")->text() + "/h (" +
                 escapeForTerminal(c->find("rateBasis")->text(), /*keep_newlines=*/false) + ")";
        }
      }
      printOut("  " + pad(std::string(label) + ":", 14) + spendLine(s) + rate +
               (s.reserved ? ", $" + formatDollars(s.reserved) + " held by calls in flight" : "") +
               (s.exhausted() ? "  (used up: km budget add " + r->id + ")" : s.warned ? "  (past the warning threshold)" : ""));
    }
    if (auto models = ledger->spendByModel(r->id); models && !models->empty()) {
      for (const auto& m : *models) {
        std::string tokens = std::to_string(m.input_tokens) + " in, " + std::to_string(m.output_tokens) + " out";
        if (m.cache_write_5m_tokens + m.cache_write_1h_tokens) {
          tokens += ", " + std::to_string(m.cache_write_5m_tokens + m.cache_write_1h_tokens) + " cache write";
        }
        if (m.cache_read_tokens) tokens += ", " + std::to_string(m.cache_read_tokens) + " cache read";
        if (m.web_search_requests) tokens += ", " + std::to_string(m.web_search_requests) + " web searches";
        printOut("    " + escapeForTerminal(m.provider + "/" + m.model, /*keep_newlines=*/false) + ": " +
                 std::to_string(m.calls) + (m.calls == 1 ? " call, " : " calls, ") + tokens + ", $" +
                 formatDollars(m.cost));
      }
    }
  }
  if (auto lines = actionLines(*j.find("actions")); !lines.empty()) {
    printOut("Actions (spec.limits):");
    for (const auto& l : lines) printOut(l);
  }
  line("Cloned From", r->cloned_from.value_or("-"));
  auto events = store->events(r->id, 5);
  if (events && !events->empty()) {
    printOut("Recent events:");
    for (const auto& e : *events) {
      // km's own words today, but a detail may quote a sandbox's text one day: escaped.
      printOut("  " + shortDuration(now - e.at_ms) + " ago  " +
               escapeForTerminal(e.kind + (e.detail.empty() ? "" : "  " + e.detail), /*keep_newlines=*/false));
    }
  }
  return kExitOk;
}

}  // namespace

Handler installCreate(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<CreateArgs>();
  sub.add_option("profile", a->profile, "Profile file or built-in name")->required();
  sub.add_option("--alias", a->alias, "A short name for the sandbox (a-z, 0-9, -)");
  sub.add_option("--substrate", a->substrate, "local (default here), docker, ec2, ecs");
  sub.add_option("--ttl", a->ttl, "Override spec.lifecycle.ttl (0 = never), e.g. 4h or 1h30m");
  sub.add_option("--idle", a->idle, "Override spec.lifecycle.idleTimeout, e.g. 30m or 1h30m");
  sub.add_option("--image", a->image,
                 "The root's OS image (a reference, a baked image's name, or host), over the profile's");
  sub.add_flag("--dry-run", a->dry_run, "Print the compiled SandboxPlan; create nothing");
  sub.add_option("-o,--output", a->output, "Dry-run format: yaml (default) or json")
      ->check(CLI::IsMember({"yaml", "json"}));
  addAgentRunOptions(sub, a->agent, true);
  sub.footer(
      "Resolves and validates the profile, compiles it into a plan and starts a sandbox on the\n"
      "local substrate: its own mount, pid, net, uts, ipc and cgroup namespaces, a copy-on-write\n"
      "overlay of its root, cpu/memory/pids limits, an unprivileged user. Needs root.\n"
      "The root is the host's own, or an OS image (km image): --image, else the profile's\n"
      "spec.runtime.image, else its runtime.ami through the operator config's images.ami (a\n"
      "profile with no ami whose initCommands call a package manager this host lacks is read as\n"
      "upstream reads it: amazon-linux-2023). An image must be pulled first; the error says which.\n"
      "A spec.execution.shell the sandbox lacks after initCommands fails the create.\n"
      "Prints the new sandbox id (--json: its status object). --ttl/--idle take 90s, 30m, 1h30m,\n"
      "1.5h, 2d. See docs/sandbox.md.\n"
      "--prompt P (@FILE reads a file) then starts an agent run as `km agent run` does (--wait,\n"
      "--codex, --agent CMD too): the sandbox id goes to stderr and the run's answer to stdout.");
  return [a, &ctx] { return runCreate(*a, ctx); };
}

Handler installList(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<ListArgs>();
  sub.alias("ls");
  sub.add_flag("--wide", a->wide, "Add PROFILE, SUBSTRATE, REGION, IDLE, SPEND, CLONED FROM");
  return [a, &ctx] { return runList(*a, ctx); };
}

Handler installStatus(CLI::App& sub, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  sub.add_option("sandbox", *ref, "Sandbox id, alias, or number (3 or #3)")->required();
  sub.footer(
      "Identity, status and health, TTL and idle countdown, resources, the supervisor, the budget\n"
      "(each pool as $spent / $limit (pct), then AI spend per provider/model with its tokens) and\n"
      "recent events. --json: the status object (budget.ai, budget.compute, spend.byModel; see\n"
      "docs/metering.md).");
  return [ref, &ctx] { return runStatus(*ref, ctx); };
}

}  // namespace km::cli
