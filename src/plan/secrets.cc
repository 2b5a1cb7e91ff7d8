// Masked secrets: which environment variables a sandbox holds only as sentinels, and the
// real values the proxy swaps in for them on requests to their hosts.
#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "core/random.h"
#include "plan/compile_steps.h"
#include "plan/plan.h"

namespace km::plan {
namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

Env::iterator findName(Env& env, std::string_view name) {
  return std::find_if(env.begin(), env.end(), [&](const auto& e) { return e.first == name; });
}

}  // namespace

std::string_view knownKeyPrefix(std::string_view value) {
  // Longest first: sk-ant- before sk-.
  static constexpr std::array<std::string_view, 9> kPrefixes = {
      "github_pat_", "sk-ant-", "sk-proj-", "sk-", "ghp_", "gho_", "ghs_", "ghu_", "xoxb-"};
  for (std::string_view prefix : kPrefixes) {
    if (value.starts_with(prefix)) return prefix;
  }
  return "";
}

std::string newSentinel(std::string_view real) {
  return std::string(knownKeyPrefix(real)) + "km-sentinel-" + randomHex(16);
}

Status maskSecrets(const profile::Spec& spec, const CompileOptions& options, bool has_proxy, Env& env,
                   std::vector<MaskedSecret>& secrets) {
  const doc::StringListMap none;
  const doc::StringListMap& bound = spec.secrets ? spec.secrets->hosts : none;
  auto operatorOwns = [&](std::string_view name) {
    return std::any_of(options.operator_secrets.begin(), options.operator_secrets.end(),
                       [&](const auto& s) { return s.name == name; });
  };
  // The bundle's values join the env: masked below when bound, else as upstream does.
  for (const auto& [name, value] : options.bundle) {
    if (findName(env, name) != env.end()) {
      return invalidArgument(name + " is defined by both spec.execution.env and the sopsFile bundle; keep one");
    }
    env.emplace_back(name, value);
  }
  if (!bound.empty() && !has_proxy) {
    return invalidArgument("spec.secrets.hosts: masked secrets need the proxy to put their real values in, and "
                           "spec.network.enforcement ebpf has none; use proxy or both");
  }
  for (const auto& [name, hosts] : bound) {
    auto it = findName(env, name);
    if (it == env.end()) {
      if (operatorOwns(name)) {
        return invalidArgument("spec.secrets.hosts." + name + ": " + name +
                               " is the operator's secret (operator config secrets): its hosts are set there, "
                               "not in a profile; remove it from spec.secrets.hosts");
      }
      return invalidArgument("spec.secrets.hosts." + name + ": " + name +
                             " is defined neither in spec.execution.env nor in the sopsFile bundle, so "
                             "there is nothing to mask; define it or remove the entry");
    }
    MaskedSecret s;
    s.name = name;
    s.value = it->second;
    s.sentinel = newSentinel(s.value);
    s.hosts = hosts;
    it->second = s.sentinel;
    secrets.push_back(std::move(s));
  }
  // The operator's secrets, for every sandbox with the proxy that does not bring its own value
  // of the name.
  for (const auto& o : has_proxy ? options.operator_secrets : std::vector<CompileOptions::OperatorSecret>{}) {
    if (findName(env, o.name) != env.end()) continue;
    MaskedSecret s;
    s.name = o.name;
    s.file = o.file;
    s.sentinel = newSentinel(o.prefix);
    s.hosts = o.hosts;
    env.emplace_back(s.name, s.sentinel);
    secrets.push_back(std::move(s));
  }
  return ok();
}

SandboxPlan withoutSecretValues(SandboxPlan plan) {
  for (auto& s : plan.secrets) {
    if (!s.value.empty()) s.value = "(hidden)";
  }
  return plan;
}

}  // namespace km::plan
