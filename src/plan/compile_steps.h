// The steps plan::compile runs, one concern each, given only their part of the profile
// (private to the plan module; tests call them directly). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "plan/plan.h"
#include "profile/types.h"

namespace km::plan {

// Defaults when neither spec.runtime.resources nor a known instance type says otherwise.
inline constexpr int64_t kDefaultCpuMillis = 2'000;
inline constexpr int64_t kDefaultMemoryBytes = int64_t{4} << 30;  // 4 GiB
inline constexpr int64_t kDefaultPids = 4'096;
// Disk when neither spec.runtime.resources.disk nor rootVolumeSize is given: an EC2 AMI's
// usual root volume.
inline constexpr int64_t kDefaultDiskBytes = int64_t{8} << 30;  // 8 GiB

struct SubstrateChoice {
  Substrate substrate = Substrate::kLocal;
  std::string note;  // empty when the profile's own substrate is used
};

// Picks where the sandbox runs (substrate_choice.cc): --substrate when given, else the
// profile's substrate when it can run here, else the operator's default with a note saying
// why. InvalidArgument when the flag or the operator default names a substrate this build
// cannot use.
[[nodiscard]] Result<SubstrateChoice> chooseSubstrate(std::string_view requested,
                                                      const CompileOptions& options);

struct Lifetime {
  int64_t ttl_seconds = 0;
  int64_t idle_timeout_seconds = 0;
};

// ttl and idle timeout from --ttl/--idle or the profile's lifecycle (lifetime.cc).
// InvalidArgument naming the flag (or field) and the accepted form, or the ttl < idle clash.
[[nodiscard]] Result<Lifetime> resolveLifetime(const profile::Lifecycle& lifecycle,
                                               const CompileOptions& options);

// The agents' settings files synthesized from spec.agent for a user whose home is `home`
// (agent_files.cc): Claude Code's settings.json (permissions from tools.autoApprove/deny and
// the free-form `permissions`) and ~/.claude.json (onboarding done, trustedDirectories
// trusted), when spec.agent.claude is given. Empty otherwise.
std::vector<ConfigFile> agentConfigFiles(const profile::Agent& agent, const std::string& home,
                                         std::string_view anthropic_key = "");

// A sentinel for secret `name` whose real value is `real` (may be "" when not known here):
// the real value's well-known prefix (sk-ant-, sk-, ghp_, …) kept, so tools that sniff a
// key's kind still work, then "km-sentinel-" and 32 random hex digits (secrets.cc).
std::string newSentinel(std::string_view real);

// The sandbox's masked secrets (secrets.cc): spec.secrets.hosts binds names of the profile's
// env or its SOPS bundle (options.bundle) to hosts; the operator config's secrets come next
// unless the profile defines the name itself. Each masked name's value in `env` becomes its
// sentinel; unbound bundle values are added to `env` as they are (as upstream). InvalidArgument
// for a name bound but defined nowhere, one the operator owns, or one both env and bundle define.
// Without the proxy (`has_proxy` false: enforcement ebpf) nothing can swap a sentinel: a
// profile binding is refused, and the operator's secrets are not given at all.
[[nodiscard]] Status maskSecrets(const profile::Spec& spec, const CompileOptions& options, bool has_proxy,
                                 std::vector<std::pair<std::string, std::string>>& env,
                                 std::vector<MaskedSecret>& secrets);

// OK when `alias` matches ^[a-z][a-z0-9-]{0,62}$; else InvalidArgument saying so (ids.cc).
[[nodiscard]] Status checkAlias(std::string_view alias);

// cpu, memory and pids from spec.runtime.resources, the instance type, or the defaults,
// clamped to the host when its size is known (resources.cc). InvalidArgument only for a
// resources value the profile schema would have refused.
[[nodiscard]] Result<Resources> resolveResources(const profile::Runtime& runtime, int host_cpus,
                                                 int64_t host_memory_bytes);


}  // namespace km::plan
