// plan::compile: a resolved profile plus the create flags become one SandboxPlan. A recipe,
// one line per concern; each step (compile_steps.h) sees only its part of the profile.
#include <algorithm>
#include <string>
#include <unordered_set>

#include "core/check.h"
#include "core/strings.h"
#include "meter/meter.h"
#include "plan/compile_steps.h"
#include "plan/plan.h"

namespace km::plan {
namespace {

// The substrate writes these files (and mounts the additional volume) into the sandbox's
// root; a relative path or a ".." component would let a profile aim outside it.
Status checkInsidePath(const std::string& path, std::string_view field) {
  bool ok = startsWith(path, "/");
  for (const auto& part : split(path, '/')) ok = ok && part != "..";
  if (ok) return {};
  return invalidArgument(std::string(field) + ": " + quoted(path) +
                         " is not an absolute path inside the sandbox (no \"..\" components)");
}

// withDefaults has normally folded initCommandsAppend already; doing it here the same way
// (skipping commands already present) keeps compile right on a profile without defaults.
std::vector<std::string> initCommands(const profile::Execution& e) {
  std::vector<std::string> out = e.init_commands;
  std::unordered_set<std::string> have(out.begin(), out.end());
  for (const auto& c : e.init_commands_append)
    if (have.insert(c).second) out.push_back(c);
  return out;
}

}  // namespace

Result<SandboxPlan> compile(const profile::Profile& profile, const CompileOptions& options) {
  KM_CHECK(!options.id.empty()) << "CompileOptions.id must come from newSandboxId()";
  const profile::Spec& spec = profile.spec;
  SandboxPlan p;

  p.id = options.id;
  p.hostname = options.id;
  p.profile_name = profile.metadata.name;
  if (options.alias) {
    KM_TRY(checkAlias(*options.alias));
    p.alias = options.alias;
  }

  auto where = chooseSubstrate(spec.runtime.substrate, options);
  if (!where) return std::move(where).error();
  p.substrate = where->substrate;
  p.substrate_note = where->note;
  p.requested_substrate = spec.runtime.substrate;
  p.region = spec.runtime.region;
  p.instance_type = spec.runtime.instance_type;

  auto lifetime = resolveLifetime(spec.lifecycle, options);
  if (!lifetime) return std::move(lifetime).error();
  p.ttl_seconds = lifetime->ttl_seconds;
  p.idle_timeout_seconds = lifetime->idle_timeout_seconds;
  // Validation allows only these three; upstream treats anything else as destroy.
  p.teardown_policy = parseTeardownPolicy(spec.lifecycle.teardown_policy).value_or(TeardownPolicy::kDestroy);

  auto resources = resolveResources(spec.runtime, options.host_cpus, options.host_memory_bytes);
  if (!resources) return std::move(resources).error();
  p.resources = std::move(*resources);
  if (!p.resources.volume_mount.empty()) KM_TRY(checkInsidePath(p.resources.volume_mount, "spec.runtime.additionalVolume.mountPoint"));
  p.logs = options.logs;
  if (spec.budget) {
    if (spec.budget->ai) p.budget.ai_limit = spec.budget->ai->max_spend_usd.micros;
    if (spec.budget->compute) p.budget.compute_limit = spec.budget->compute->max_spend_usd.micros;
    // 0 or unset: the default 0.8 (as upstream).
    if (spec.budget->warning_threshold && spec.budget->warning_threshold->ppm > 0) {
      p.budget.warning_threshold = spec.budget->warning_threshold->ppm;
    }
  }
  p.hibernation = spec.runtime.hibernation.value_or(false);
  if (spec.budget && spec.budget->compute) {
    // Priced now, so an edit of the table does not change a running sandbox's rate.
    meter::PriceTable prices = meter::PriceTable::builtin();
    if (!options.pricing_yaml.empty()) {
      auto mine = meter::PriceTable::parse(options.pricing_yaml, options.pricing_origin);
      if (!mine) return std::move(mine).error().context("operator config pricing.file");
      prices = prices.overriddenBy(*mine);
    }
    auto rate = prices.computeRate(spec.runtime.instance_type, spec.runtime.spot.value_or(false));
    p.budget.compute_rate = rate.per_hour;
    p.budget.compute_rate_basis = rate.basis;
    if (rate.unknown) {
      p.budget.compute_rate_basis += " (instance type " + spec.runtime.instance_type + " is not in the price table)";
    }
  }
  p.metering.endpoints = options.ai_endpoints;
  p.metering.pricing_yaml = options.pricing_yaml;
  p.metering.pricing_origin = options.pricing_origin;
  p.metering.bedrock_credentials_file = options.bedrock_credentials_file;
  p.metering.bedrock_profile = options.bedrock_profile;

  p.image = options.image;
  p.shell = spec.execution.shell;
  p.working_dir = spec.execution.working_dir;
  p.env = spec.execution.env;
  KM_TRY(maskSecrets(spec, options, spec.network.enforcement.value_or("proxy") != "ebpf", p.env, p.secrets));
  for (const auto& [path, content] : spec.execution.config_files) {
    KM_TRY(checkInsidePath(path, "spec.execution.configFiles"));
    p.config_files.push_back({path, content});
  }
  if (spec.agent) {
    // The profile's own configFiles win over what spec.agent would write at the same path.
    std::string_view key;
    for (const auto& [name, value] : p.env) {
      if (name == "ANTHROPIC_API_KEY") key = value;
    }
    for (auto& f : agentConfigFiles(*spec.agent, "/home/" + p.user, key)) {
      bool written = std::any_of(p.config_files.begin(), p.config_files.end(),
                                 [&](const ConfigFile& c) { return c.path == f.path; });
      if (!written) p.config_files.push_back(std::move(f));
    }
  }
  p.init_commands = initCommands(spec.execution);

  net::NetworkPolicyText policy;
  policy.enforcement = spec.network.enforcement.value_or("proxy");
  policy.allowed_dns_suffixes = spec.network.egress.allowed_dns_suffixes;
  policy.allowed_hosts = spec.network.egress.allowed_hosts;
  policy.dns_upstreams = options.dns_upstreams;
  policy.subnet_pool = options.subnet_pool;
  policy.allowed_cidrs = options.allowed_cidrs;
  for (const auto& e : options.ai_endpoints) policy.ai_endpoints.push_back(e.host);
  policy.https_only = spec.network.https_only.value_or(false);
  // As upstream: a profile with an AI budget reaches the AI providers (metered by the proxy)
  // whatever its allowlist says.
  policy.ai_providers = spec.budget && spec.budget->ai && spec.budget->ai->max_spend_usd.micros > 0;
  // As upstream: a repo allowlist is enforced in the proxy, which must read GitHub's traffic.
  policy.intercept_github = spec.source_access.mode == "allowlist";
  // GitHub's hosts are reachable without an allowlist entry only where the proxy filters them
  // (with ebpf enforcement alone, the allowlist decides and nothing is filtered).
  policy.github_allowed =
      policy.intercept_github && spec.source_access.github.has_value() && policy.enforcement != "ebpf";
  for (const auto& secret : p.secrets) {
    for (const auto& host : secret.hosts) {
      if (std::find(policy.secret_hosts.begin(), policy.secret_hosts.end(), host) == policy.secret_hosts.end()) {
        policy.secret_hosts.push_back(host);
      }
    }
  }
  p.source = options.github;
  p.source.enforced = policy.intercept_github;
  p.source.allowed_repos.clear();
  p.source.allowed_refs.clear();
  p.source.allow_ref_deletion = false;
  if (spec.source_access.github && p.source.enforced) {
    p.source.allowed_repos = spec.source_access.github->allowed_repos;
    p.source.allowed_refs = spec.source_access.github->allowed_refs;
    p.source.allow_ref_deletion = spec.source_access.github->allow_ref_deletion.value_or(false);
  }
  policy.extra_ca_file = options.tls_extra_ca_file;
  policy.proxy_ports = {443, 80};
  for (int64_t port : options.proxy_connect_ports) {
    if (port < 1 || port > 65535) return invalidArgument("operator config proxy.connectPorts: " + std::to_string(port) + " is not a port");
    if (std::find(policy.proxy_ports.begin(), policy.proxy_ports.end(), port) == policy.proxy_ports.end()) {
      policy.proxy_ports.push_back(static_cast<uint16_t>(port));
    }
  }
  if (spec.limits) {
    const profile::Limits& l = *spec.limits;
    for (auto [name, limit] : {std::pair{"github_pr", &l.github_pr}, std::pair{"github_comment", &l.github_comment},
                               std::pair{"github_review", &l.github_review}, std::pair{"email_send", &l.email_send},
                               std::pair{"slack_post", &l.slack_post}, std::pair{"h1_comment", &l.h1_comment}}) {
      if (!*limit) continue;
      ActionQuota q;
      q.action = name;
      q.lifetime = (*limit)->lifetime.value_or(-1);
      q.per_hour = (*limit)->per_hour.value_or(-1);
      q.per_day = (*limit)->per_day.value_or(-1);
      q.on_breach = (*limit)->on_breach.value_or("warn");
      p.quotas.push_back(std::move(q));
    }
  }
  auto network = net::NetworkSpec::compile(policy);
  if (!network) return std::move(network).error();
  p.network = std::move(*network);
  return p;
}

}  // namespace km::plan
