// A SandboxPlan as a document: what `km create --dry-run -o json` prints and what the store
// keeps. Keys are camelCase in a fixed order; planVersion lets a later build tell an old plan
// from garbage. Reading is strict, since a plan km did not write is not one to run.
#include <optional>
#include <string>
#include <vector>

#include "doc/json_io.h"
#include "plan/plan.h"

namespace km::plan {
namespace {

using doc::Node;

constexpr int64_t kPlanVersion = 10;

Node strings(const std::vector<std::string>& v) {
  Node s = Node::seq();
  for (const auto& x : v) s.push(Node::string(x));
  return s;
}

// Reads one mapping, remembering the first problem and every key it was asked for, so that
// finish() can refuse the keys nobody asked for.
class Reader {
 public:
  Reader(const Node& map, std::string path, std::optional<Error>& error)
      : map_(map), path_(std::move(path)), error_(error) {
    if (!map_.isMap()) fail(path_.empty() ? "the document" : path_, "a mapping", map_.kindName());
  }

  void str(std::string_view key, std::string& out) {
    if (const Node* n = take(key, Node::Kind::kString, "a string")) out = n->text();
  }
  void optionalStr(std::string_view key, std::optional<std::string>& out) {
    const Node* n = find(key);
    if (n && n->isNull()) return out.reset();
    if ((n = take(key, Node::Kind::kString, "a string or null"))) out = n->text();
  }
  void count(std::string_view key, int64_t& out) {
    const Node* n = take(key, Node::Kind::kInt, "a whole number");
    if (!n) return;
    std::optional<int64_t> v = doc::parseCoreInt(n->text());
    if (!v || *v < 0) return fail(at(key), "a whole number ≥ 0", n->text());
    out = *v;
  }
  // A whole number ≥ -1 (-1: no limit).
  void limit(std::string_view key, int64_t& out) {
    const Node* n = take(key, Node::Kind::kInt, "a whole number");
    if (!n) return;
    std::optional<int64_t> v = doc::parseCoreInt(n->text());
    if (!v || *v < -1) return fail(at(key), "a whole number ≥ -1", n->text());
    out = *v;
  }
  void list(std::string_view key, std::vector<std::string>& out) {
    const Node* n = take(key, Node::Kind::kSeq, "a list");
    if (!n) return;
    for (size_t i = 0; i < n->items().size(); ++i) {
      const Node& item = n->items()[i];
      if (item.kind() != Node::Kind::kString) {
        return fail(at(key) + "[" + std::to_string(i) + "]", "a string", item.kindName());
      }
      out.push_back(item.text());
    }
  }
  void flag(std::string_view key, bool& out) {
    if (const Node* n = take(key, Node::Kind::kBool, "true or false")) out = n->text() == "true";
  }
  void ports(std::string_view key, std::vector<uint16_t>& out) {
    const Node* n = take(key, Node::Kind::kSeq, "a list");
    if (!n) return;
    for (size_t i = 0; i < n->items().size(); ++i) {
      const Node& item = n->items()[i];
      std::optional<int64_t> v = item.kind() == Node::Kind::kInt ? doc::parseCoreInt(item.text()) : std::nullopt;
      if (!v || *v < 1 || *v > 65535) return fail(at(key) + "[" + std::to_string(i) + "]", "a port", item.kindName());
      out.push_back(static_cast<uint16_t>(*v));
    }
  }
  // A string naming one of an enum's values: `parse` reads it, `names` lists the accepted
  // ones for the error.
  template <typename T, typename Parse>
  void choice(std::string_view key, T& out, Parse parse, std::string_view names) {
    std::string text;
    str(key, text);
    if (error_) return;
    if (auto v = parse(text)) {
      out = *v;
    } else {
      error_ = invalidArgument(at(key) + ": '" + text + "' is not " + std::string(names));
    }
  }
  // The child mapping or list under `key` (null after an error).
  const Node* child(std::string_view key, Node::Kind kind, std::string_view what) {
    return take(key, kind, what);
  }
  std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  void finish() {
    if (error_ || !map_.isMap()) return;
    for (const auto& e : map_.entries()) {
      bool known = false;
      for (const auto& k : asked_) known = known || k == e.key;
      if (!known) {
        error_ = invalidArgument("not a plan this build wrote: " + at(e.key) + ": unknown field");
        return;
      }
    }
  }

 private:
  const Node* find(std::string_view key) {
    asked_.emplace_back(key);
    return error_ || !map_.isMap() ? nullptr : map_.find(key);
  }
  const Node* take(std::string_view key, Node::Kind kind, std::string_view what) {
    const Node* n = find(key);
    if (error_) return nullptr;
    if (!n) {
      error_ = invalidArgument("not a plan this build wrote: " + at(key) + ": missing");
      return nullptr;
    }
    if (n->kind() != kind) {
      fail(at(key), what, n->kindName());
      return nullptr;
    }
    return n;
  }
  void fail(const std::string& where, std::string_view expected, std::string_view got) {
    if (error_) return;
    error_ = invalidArgument("not a plan this build wrote: " + where + ": expected " + std::string(expected) +
                             ", got " + std::string(got));
  }

  const Node& map_;
  std::string path_;
  std::optional<Error>& error_;
  std::vector<std::string> asked_;
};

}  // namespace

Node toNode(const SandboxPlan& p) {
  Node m = Node::map();
  m.set("planVersion", Node::integer(kPlanVersion));
  m.set("id", Node::string(p.id));
  m.set("alias", p.alias ? Node::string(*p.alias) : Node::null());
  m.set("profileName", Node::string(p.profile_name));
  m.set("hostname", Node::string(p.hostname));
  m.set("substrate", Node::string(std::string(substrateName(p.substrate))));
  m.set("requestedSubstrate", Node::string(p.requested_substrate));
  m.set("substrateNote", Node::string(p.substrate_note));
  m.set("region", Node::string(p.region));
  m.set("instanceType", Node::string(p.instance_type));
  m.set("ttlSeconds", Node::integer(p.ttl_seconds));
  m.set("idleTimeoutSeconds", Node::integer(p.idle_timeout_seconds));
  m.set("teardownPolicy", Node::string(std::string(teardownPolicyName(p.teardown_policy))));
  m.set("hibernation", Node::boolean(p.hibernation));
  Node r = Node::map();
  r.set("cpuMillis", Node::integer(p.resources.cpu_millis));
  r.set("memoryBytes", Node::integer(p.resources.memory_bytes));
  r.set("pids", Node::integer(p.resources.pids));
  r.set("diskBytes", Node::integer(p.resources.disk_bytes));
  r.set("source", Node::string(p.resources.source));
  r.set("diskSource", Node::string(p.resources.disk_source));
  r.set("volumeMount", Node::string(p.resources.volume_mount));
  r.set("volumeBytes", Node::integer(p.resources.volume_bytes));
  m.set("resources", std::move(r));
  m.set("user", Node::string(p.user));
  m.set("shell", Node::string(p.shell));
  m.set("workingDir", Node::string(p.working_dir));
  Node env = Node::map();
  for (const auto& [k, v] : p.env) env.set(k, Node::string(v));
  m.set("env", std::move(env));
  Node files = Node::seq();
  for (const auto& f : p.config_files) {
    Node file = Node::map();
    file.set("path", Node::string(f.path));
    file.set("content", Node::string(f.content));
    files.push(std::move(file));
  }
  m.set("configFiles", std::move(files));
  m.set("initCommands", strings(p.init_commands));
  net::NetworkPolicyText net = p.network.text();
  m.set("enforcement", Node::string(net.enforcement));
  m.set("allowedDNSSuffixes", strings(net.allowed_dns_suffixes));
  m.set("allowedHosts", strings(net.allowed_hosts));
  m.set("dnsUpstreams", strings(net.dns_upstreams));
  m.set("subnetPool", Node::string(net.subnet_pool));
  m.set("allowedCIDRs", strings(net.allowed_cidrs));
  m.set("aiEndpoints", strings(net.ai_endpoints));
  m.set("httpsOnly", Node::boolean(net.https_only));
  m.set("aiProviders", Node::boolean(net.ai_providers));
  Node ports = Node::seq();
  for (uint16_t port : net.proxy_ports) ports.push(Node::integer(port));
  m.set("proxyPorts", std::move(ports));
  m.set("interceptGitHub", Node::boolean(net.intercept_github));
  m.set("gitHubAllowed", Node::boolean(net.github_allowed));
  m.set("secretHosts", strings(net.secret_hosts));
  m.set("tlsExtraCAFile", Node::string(net.extra_ca_file));
  Node logs = Node::map();
  logs.set("maxFileBytes", Node::integer(p.logs.max_file_bytes));
  logs.set("maxFiles", Node::integer(p.logs.max_files));
  m.set("logs", std::move(logs));
  Node budget = Node::map();
  budget.set("aiMicros", Node::integer(p.budget.ai_limit));
  budget.set("computeMicros", Node::integer(p.budget.compute_limit));
  budget.set("warningPpm", Node::integer(p.budget.warning_threshold));
  budget.set("computeRateMicrosPerHour", Node::integer(p.budget.compute_rate));
  budget.set("computeRateBasis", Node::string(p.budget.compute_rate_basis));
  m.set("budget", std::move(budget));
  Node metering = Node::map();
  Node endpoints = Node::seq();
  for (const auto& e : p.metering.endpoints) {
    Node endpoint = Node::map();
    endpoint.set("host", Node::string(e.host));
    endpoint.set("provider", Node::string(e.provider));
    endpoints.push(std::move(endpoint));
  }
  metering.set("endpoints", std::move(endpoints));
  metering.set("pricing", Node::string(p.metering.pricing_yaml));
  metering.set("pricingOrigin", Node::string(p.metering.pricing_origin));
  metering.set("bedrockCredentialsFile", Node::string(p.metering.bedrock_credentials_file));
  metering.set("bedrockProfile", Node::string(p.metering.bedrock_profile));
  m.set("metering", std::move(metering));
  Node source = Node::map();
  source.set("enforced", Node::boolean(p.source.enforced));
  source.set("allowedRepos", strings(p.source.allowed_repos));
  source.set("allowedRefs", strings(p.source.allowed_refs));
  source.set("allowRefDeletion", Node::boolean(p.source.allow_ref_deletion));
  source.set("apiUrl", Node::string(p.source.api_url));
  source.set("appId", Node::integer(p.source.app_id));
  source.set("privateKeyFile", Node::string(p.source.private_key_file));
  Node installations = Node::seq();
  for (const auto& i : p.source.installations) {
    Node n = Node::map();
    n.set("owner", Node::string(i.owner));
    n.set("id", Node::integer(i.id));
    installations.push(std::move(n));
  }
  source.set("installations", std::move(installations));
  source.set("tokenFile", Node::string(p.source.token_file));
  m.set("source", std::move(source));
  Node secrets = Node::seq();
  for (const auto& s : p.secrets) {
    Node n = Node::map();
    n.set("name", Node::string(s.name));
    n.set("sentinel", Node::string(s.sentinel));
    n.set("hosts", strings(s.hosts));
    n.set("file", Node::string(s.file));
    n.set("value", Node::string(s.value));
    secrets.push(std::move(n));
  }
  m.set("secrets", std::move(secrets));
  Node quotas = Node::seq();
  for (const auto& q : p.quotas) {
    Node n = Node::map();
    n.set("action", Node::string(q.action));
    n.set("lifetime", Node::integer(q.lifetime));
    n.set("perHour", Node::integer(q.per_hour));
    n.set("perDay", Node::integer(q.per_day));
    n.set("onBreach", Node::string(q.on_breach));
    quotas.push(std::move(n));
  }
  m.set("quotas", std::move(quotas));
  Node image = Node::map();
  image.set("name", Node::string(p.image.name));
  image.set("id", Node::string(p.image.id));
  image.set("layers", strings(p.image.layers));
  image.set("onHost", Node::boolean(p.image.on_host));
  image.set("why", Node::string(p.image.why));
  image.set("os", Node::string(p.image.os));
  m.set("image", std::move(image));
  return m;
}

Result<SandboxPlan> fromNode(const Node& node) {
  std::optional<Error> error;
  SandboxPlan p;
  Reader top(node, "", error);
  int64_t version = 0;
  top.count("planVersion", version);
  if (!error && version != kPlanVersion) {
    return invalidArgument("not a plan this build wrote: planVersion " + std::to_string(version) +
                           " (this build reads " + std::to_string(kPlanVersion) + ")");
  }
  top.str("id", p.id);
  top.optionalStr("alias", p.alias);
  top.str("profileName", p.profile_name);
  top.str("hostname", p.hostname);
  top.choice("substrate", p.substrate, parseSubstrate, "local, docker, ec2 or ecs");
  top.str("requestedSubstrate", p.requested_substrate);
  top.str("substrateNote", p.substrate_note);
  top.str("region", p.region);
  top.str("instanceType", p.instance_type);
  top.count("ttlSeconds", p.ttl_seconds);
  top.count("idleTimeoutSeconds", p.idle_timeout_seconds);
  top.choice("teardownPolicy", p.teardown_policy, parseTeardownPolicy, "destroy, stop or retain");
  top.flag("hibernation", p.hibernation);
  if (const Node* r = top.child("resources", Node::Kind::kMap, "a mapping")) {
    Reader res(*r, "resources", error);
    res.count("cpuMillis", p.resources.cpu_millis);
    res.count("memoryBytes", p.resources.memory_bytes);
    res.count("pids", p.resources.pids);
    res.count("diskBytes", p.resources.disk_bytes);
    res.str("source", p.resources.source);
    res.str("diskSource", p.resources.disk_source);
    res.str("volumeMount", p.resources.volume_mount);
    res.count("volumeBytes", p.resources.volume_bytes);
    res.finish();
  }
  top.str("user", p.user);
  top.str("shell", p.shell);
  top.str("workingDir", p.working_dir);
  if (const Node* env = top.child("env", Node::Kind::kMap, "a mapping")) {
    for (const auto& e : env->entries()) {
      if (e.value.kind() != Node::Kind::kString) {
        return invalidArgument("not a plan this build wrote: env." + e.key + ": expected a string, got " +
                               std::string(e.value.kindName()));
      }
      p.env.emplace_back(e.key, e.value.text());
    }
  }
  if (const Node* files = top.child("configFiles", Node::Kind::kSeq, "a list")) {
    for (size_t i = 0; i < files->items().size() && !error; ++i) {
      Reader f(files->items()[i], "configFiles[" + std::to_string(i) + "]", error);
      ConfigFile file;
      f.str("path", file.path);
      f.str("content", file.content);
      f.finish();
      p.config_files.push_back(std::move(file));
    }
  }
  top.list("initCommands", p.init_commands);
  net::NetworkPolicyText net;
  top.str("enforcement", net.enforcement);
  top.list("allowedDNSSuffixes", net.allowed_dns_suffixes);
  top.list("allowedHosts", net.allowed_hosts);
  top.list("dnsUpstreams", net.dns_upstreams);
  top.str("subnetPool", net.subnet_pool);
  top.list("allowedCIDRs", net.allowed_cidrs);
  top.list("aiEndpoints", net.ai_endpoints);
  top.flag("httpsOnly", net.https_only);
  top.flag("aiProviders", net.ai_providers);
  net.proxy_ports.clear();
  top.ports("proxyPorts", net.proxy_ports);
  top.flag("interceptGitHub", net.intercept_github);
  top.flag("gitHubAllowed", net.github_allowed);
  top.list("secretHosts", net.secret_hosts);
  top.str("tlsExtraCAFile", net.extra_ca_file);
  if (const Node* l = top.child("logs", Node::Kind::kMap, "a mapping")) {
    Reader logs(*l, "logs", error);
    logs.count("maxFileBytes", p.logs.max_file_bytes);
    logs.count("maxFiles", p.logs.max_files);
    logs.finish();
  }
  if (const Node* b = top.child("budget", Node::Kind::kMap, "a mapping")) {
    Reader budget(*b, "budget", error);
    budget.count("aiMicros", p.budget.ai_limit);
    budget.count("computeMicros", p.budget.compute_limit);
    budget.count("warningPpm", p.budget.warning_threshold);
    budget.count("computeRateMicrosPerHour", p.budget.compute_rate);
    budget.str("computeRateBasis", p.budget.compute_rate_basis);
    budget.finish();
  }
  if (const Node* mt = top.child("metering", Node::Kind::kMap, "a mapping")) {
    Reader metering(*mt, "metering", error);
    if (const Node* list = metering.child("endpoints", Node::Kind::kSeq, "a list")) {
      for (size_t i = 0; i < list->items().size() && !error; ++i) {
        Reader e(list->items()[i], "metering.endpoints[" + std::to_string(i) + "]", error);
        AiEndpoint endpoint;
        e.str("host", endpoint.host);
        e.str("provider", endpoint.provider);
        e.finish();
        p.metering.endpoints.push_back(std::move(endpoint));
      }
    }
    metering.str("pricing", p.metering.pricing_yaml);
    metering.str("pricingOrigin", p.metering.pricing_origin);
    metering.str("bedrockCredentialsFile", p.metering.bedrock_credentials_file);
    metering.str("bedrockProfile", p.metering.bedrock_profile);
    metering.finish();
  }
  if (const Node* src = top.child("source", Node::Kind::kMap, "a mapping")) {
    Reader source(*src, "source", error);
    source.flag("enforced", p.source.enforced);
    source.list("allowedRepos", p.source.allowed_repos);
    source.list("allowedRefs", p.source.allowed_refs);
    source.flag("allowRefDeletion", p.source.allow_ref_deletion);
    source.str("apiUrl", p.source.api_url);
    source.count("appId", p.source.app_id);
    source.str("privateKeyFile", p.source.private_key_file);
    if (const Node* list = source.child("installations", Node::Kind::kSeq, "a list")) {
      for (size_t i = 0; i < list->items().size() && !error; ++i) {
        Reader e(list->items()[i], "source.installations[" + std::to_string(i) + "]", error);
        GithubInstallation inst;
        e.str("owner", inst.owner);
        e.count("id", inst.id);
        e.finish();
        p.source.installations.push_back(std::move(inst));
      }
    }
    source.str("tokenFile", p.source.token_file);
    source.finish();
  }
  if (const Node* list = top.child("secrets", Node::Kind::kSeq, "a list")) {
    for (size_t i = 0; i < list->items().size() && !error; ++i) {
      Reader e(list->items()[i], "secrets[" + std::to_string(i) + "]", error);
      MaskedSecret s;
      e.str("name", s.name);
      e.str("sentinel", s.sentinel);
      e.list("hosts", s.hosts);
      e.str("file", s.file);
      e.str("value", s.value);
      e.finish();
      p.secrets.push_back(std::move(s));
    }
  }
  if (const Node* list = top.child("quotas", Node::Kind::kSeq, "a list")) {
    for (size_t i = 0; i < list->items().size() && !error; ++i) {
      Reader e(list->items()[i], "quotas[" + std::to_string(i) + "]", error);
      ActionQuota q;
      e.str("action", q.action);
      e.limit("lifetime", q.lifetime);
      e.limit("perHour", q.per_hour);
      e.limit("perDay", q.per_day);
      e.str("onBreach", q.on_breach);
      e.finish();
      p.quotas.push_back(std::move(q));
    }
  }
  if (const Node* im = top.child("image", Node::Kind::kMap, "a mapping")) {
    Reader e(*im, "image", error);
    e.str("name", p.image.name);
    e.str("id", p.image.id);
    e.list("layers", p.image.layers);
    e.flag("onHost", p.image.on_host);
    e.str("why", p.image.why);
    e.str("os", p.image.os);
    e.finish();
  }
  top.finish();
  if (error) return std::move(*error);
  auto network = net::NetworkSpec::compile(net);
  if (!network) return invalidArgument("not a plan this build wrote: " + network.error().message());
  p.network = std::move(*network);
  return p;
}

std::string_view teardownPolicyName(TeardownPolicy policy) {
  switch (policy) {
    case TeardownPolicy::kDestroy: return "destroy";
    case TeardownPolicy::kStop: return "stop";
    case TeardownPolicy::kRetain: return "retain";
  }
  return "destroy";
}

std::optional<TeardownPolicy> parseTeardownPolicy(std::string_view text) {
  for (TeardownPolicy t : {TeardownPolicy::kDestroy, TeardownPolicy::kStop, TeardownPolicy::kRetain}) {
    if (teardownPolicyName(t) == text) return t;
  }
  return std::nullopt;
}

std::string_view substrateName(Substrate substrate) {
  switch (substrate) {
    case Substrate::kLocal: return "local";
    case Substrate::kDocker: return "docker";
    case Substrate::kEc2: return "ec2";
    case Substrate::kEcs: return "ecs";
  }
  return "local";
}

std::optional<Substrate> parseSubstrate(std::string_view text) {
  for (Substrate k : {Substrate::kLocal, Substrate::kDocker, Substrate::kEc2, Substrate::kEcs}) {
    if (substrateName(k) == text) return k;
  }
  return std::nullopt;
}

std::string toJson(const SandboxPlan& plan) { return doc::toJson(toNode(plan), -1); }

Result<SandboxPlan> fromJson(std::string_view text, std::string_view what) {
  Node node;
  std::string err;
  if (!doc::parseJson(std::string(text), node, &err)) {
    return invalidArgument(std::string(what) + " is not JSON: " + err);
  }
  auto plan = fromNode(node);
  if (!plan) return std::move(plan).error().context(what);
  return plan;
}

}  // namespace km::plan
