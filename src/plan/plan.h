// km::plan — compiles a resolved, validated profile into a SandboxPlan: the substrate-neutral
// description of one sandbox (identity, lifetime, resources, what runs inside, network
// policy). Pure data and pure functions (no I/O except newSandboxId's randomness);
// thread-safe. The local substrate executes a plan; `km create --dry-run -o json` prints one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/money.h"
#include "core/result.h"
#include "core/rotating_file.h"
#include "doc/node.h"
#include "net/net.h"
#include "profile/types.h"

namespace km::plan {

// cpu, memory and pids for the sandbox. Where each number came from is kept for `km status`
// and the dry run ("instanceType t3.medium", "spec.runtime.resources", "default").
struct Resources {
  int64_t cpu_millis = 0;    // 1000 = one CPU; 0 = no limit
  int64_t memory_bytes = 0;  // 0 = no limit
  int64_t pids = 0;          // 0 = no limit
  int64_t disk_bytes = 0;    // everything the sandbox writes; 0 = no limit
  std::string source;
  std::string disk_source;   // "spec.runtime.rootVolumeSize", "spec.runtime.resources.disk", "default"
  // spec.runtime.additionalVolume: a separate disk mounted at `volume_mount` ("" = none).
  std::string volume_mount;
  int64_t volume_bytes = 0;
};

// Bounds of the logs a sandbox can make grow on the host (operator config `logs`).
struct LogLimits {
  int64_t max_file_bytes = static_cast<int64_t>(kDefaultLogFileBytes);
  int64_t max_files = kDefaultLogFiles;  // the live file and rotated ones
  // As RotatingFile takes them (a value ≤ 0 keeps the default).
  RotationLimits rotation() const {
    RotationLimits r;
    if (max_file_bytes > 0) r.max_file_bytes = static_cast<uint64_t>(max_file_bytes);
    if (max_files > 0) r.max_files = static_cast<int>(max_files);
    return r;
  }
};

// What an expired TTL or idle timeout does to the sandbox (spec.lifecycle.teardownPolicy;
// upstream treats an unknown value as destroy).
enum class TeardownPolicy { kDestroy, kStop, kRetain };
std::string_view teardownPolicyName(TeardownPolicy policy);  // destroy | stop | retain
std::optional<TeardownPolicy> parseTeardownPolicy(std::string_view text);

// Where a sandbox runs (spec.runtime.substrate, --substrate). This build runs local only.
enum class Substrate { kLocal, kDocker, kEc2, kEcs };
std::string_view substrateName(Substrate substrate);  // local | docker | ec2 | ecs
std::optional<Substrate> parseSubstrate(std::string_view text);

struct ConfigFile {
  std::string path;  // absolute path inside the sandbox
  std::string content;
};

// spec.budget: the pools' limits (0 = no cap) and the warning threshold.
struct BudgetPlan {
  Micros ai_limit = 0;
  Micros compute_limit = 0;
  Ppm warning_threshold = 800'000;
  // What an hour of running costs (the price table's rate for the instance type, spot or
  // on-demand), fixed at create; and what it was priced as ("t3.medium spot"). The basis is
  // empty when the profile has no compute budget (running time is not counted).
  Micros compute_rate = 0;
  std::string compute_rate_basis;
};

// An AI endpoint the operator config declares (ai.endpoints): metered as its provider.
struct AiEndpoint {
  std::string host;
  std::string provider;  // anthropic | openai | bedrock
};

// How the proxy meters AI calls: the operator's endpoints and price overrides (the text of
// pricing.file as it was at create, so a later edit does not change a running sandbox).
struct MeteringPlan {
  std::vector<AiEndpoint> endpoints;
  std::string pricing_yaml;    // "" = the built-in table alone
  std::string pricing_origin;  // the file it came from (for errors)
  // ai.bedrock: the AWS credentials file (absolute; read by the proxy when it counts, never
  // copied into the plan) and its profile; "" = none.
  std::string bedrock_credentials_file;
  std::string bedrock_profile;
};

// A secret the sandbox holds only as a sentinel (spec.secrets.hosts, the operator config's
// secrets): the proxy puts the real value in place of the sentinel in requests to `hosts`
// and refuses requests that carry it anywhere else.
struct MaskedSecret {
  std::string name;                // the environment variable
  std::string sentinel;            // its value inside the sandbox (random per sandbox)
  std::vector<std::string> hosts;  // exact host names the real value may go to
  // Where the real value is: the content of `file` (an operator config secret, read by the
  // supervisor, so a rotated key is used from the next start), else `value` (from the profile's
  // env or its SOPS bundle; kept under KM_HOME with the plan, never printed).
  std::string file;
  std::string value;
};

// A GitHub App installation (operator config github.installations).
struct GithubInstallation {
  std::string owner;
  int64_t id = 0;
};

// spec.sourceAccess as the proxy enforces it, with the operator's GitHub credentials.
struct SourcePlan {
  bool enforced = false;  // mode allowlist: GitHub's requests are read and filtered
  std::vector<std::string> allowed_repos;
  std::vector<std::string> allowed_refs;
  bool allow_ref_deletion = false;
  // Operator config github: an App (app_id > 0), else a static token file, else no token.
  std::string api_url;
  int64_t app_id = 0;
  std::string private_key_file;
  std::vector<GithubInstallation> installations;
  std::string token_file;
};

// spec.limits: one kind of outbound action counted (github_pr, github_comment, github_review,
// email_send, slack_post, h1_comment); -1 = no limit in that window.
struct ActionQuota {
  std::string action;
  int64_t lifetime = -1, per_hour = -1, per_day = -1;
  std::string on_breach = "warn";  // warn | block | freeze
};

// The sandbox's root: the host's own (name empty) or an OS image, pinned by id when the
// sandbox was created (a re-pull of its name does not change a sandbox's root).
struct ImagePlan {
  std::string name;                 // as the profile, flag or ami table named it ("" = the host's root)
  std::string id;                   // "sha256:…": the image the sandbox runs on
  std::vector<std::string> layers;  // its layer ids, bottom first
  bool on_host = false;             // a bake of a host-rooted sandbox: the host's root is its bottom
  std::string why;                  // "--image", "runtime.ami ubuntu-24.04 → docker.io/library/ubuntu:24.04"…
  std::string os;                   // the image's PRETTY_NAME
};

struct SandboxPlan {
  // Identity
  std::string id;                    // {prefix}-{8 hex}
  std::optional<std::string> alias;
  std::string profile_name;          // metadata.name
  std::string hostname;              // = id
  // Where it runs
  Substrate substrate = Substrate::kLocal;  // chosen
  std::string requested_substrate;   // what the profile said (may be empty or unknown)
  std::string substrate_note;        // one line when they differ ("… runs on local: …")
  std::string region;
  std::string instance_type;
  // Lifetime
  int64_t ttl_seconds = 0;           // 0 = never expires
  int64_t idle_timeout_seconds = 0;  // 0 = no idle timeout
  TeardownPolicy teardown_policy = TeardownPolicy::kDestroy;
  // spec.runtime.hibernation: a used-up budget pauses the sandbox (memory kept) instead of
  // stopping it.
  bool hibernation = false;
  // Resources
  Resources resources;
  ImagePlan image;
  // Execution
  std::string user = "sandbox";      // agent processes run as this user (root with --root)
  std::string shell;                 // spec.execution.shell
  std::string working_dir;           // spec.execution.workingDir (persistent)
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<ConfigFile> config_files;
  std::vector<std::string> init_commands;  // initCommandsAppend already folded in
  // Network policy: the profile's spec.network with, from the operator config, where
  // allowed names are resolved, the pool the sandbox's veth subnet comes from, private
  // ranges every sandbox may reach, and the ai.endpoints hosts (also sent through the proxy).
  net::NetworkSpec network;
  LogLimits logs;                         // from the operator config
  BudgetPlan budget;
  MeteringPlan metering;
  SourcePlan source;
  std::vector<MaskedSecret> secrets;
  std::vector<ActionQuota> quotas;
};

// The well-known prefix a key starts with (sk-ant-, sk-proj-, sk-, ghp_, github_pat_, xoxb-,
// …), which a sentinel keeps so tools that sniff a key's kind still work; "" for others.
std::string_view knownKeyPrefix(std::string_view value);

// The plan with every masked secret's value blanked (what is printed: --dry-run, status).
SandboxPlan withoutSecretValues(SandboxPlan plan);

struct CompileOptions {
  std::string id;                            // from newSandboxId()
  std::optional<std::string> alias;          // --alias
  std::optional<std::string> substrate;      // --substrate
  std::optional<std::string> ttl;            // --ttl (profile duration syntax)
  std::optional<std::string> idle_timeout;   // --idle
  // From the operator config: the substrate used when the profile's own is not configured
  // (default local), and whether the AWS substrates (ec2, ecs) are configured.
  std::string default_substrate = "local";
  bool aws_configured = false;
  std::vector<std::string> dns_upstreams;      // dns.upstream (effective)
  std::string subnet_pool = std::string(net::kDefaultSubnetPool);  // network.subnetPool
  std::vector<std::string> allowed_cidrs;      // network.allowCIDRs
  std::vector<AiEndpoint> ai_endpoints;        // ai.endpoints
  std::string pricing_yaml;                    // pricing.file's text ("" when unset)
  std::string pricing_origin;                  // pricing.file's path
  std::string bedrock_credentials_file;        // ai.bedrock.credentialsFile (absolute, checked)
  std::string bedrock_profile;                 // ai.bedrock.profile
  std::vector<int64_t> proxy_connect_ports;    // proxy.connectPorts (besides 443 and 80)
  std::string tls_extra_ca_file;               // tls.extraCAFile (absolute)
  LogLimits logs;                              // logs.maxFileSize, logs.maxFiles
  // Operator config secrets (files absolute and checked) and github (files absolute).
  struct OperatorSecret {
    std::string name;
    std::string file;
    std::vector<std::string> hosts;
    std::string prefix;  // knownKeyPrefix of its value, kept in its sentinel
  };
  std::vector<OperatorSecret> operator_secrets;
  SourcePlan github;  // only its credential fields (api_url, app_id, …) are read
  // The profile's SOPS bundle, decrypted (spec.secrets.sopsFile): its top-level keys in order.
  std::vector<std::pair<std::string, std::string>> bundle;
  // The root, chosen and looked up by the caller (image::chooseImage and the image store).
  ImagePlan image;
  // The host, so limits never exceed what exists: 0 = unknown (no clamping).
  int host_cpus = 0;
  int64_t host_memory_bytes = 0;
};

// Compiles `profile` (resolved and validated, defaults applied). InvalidArgument for a bad
// --ttl/--idle/--alias/--substrate value or an unusable combination, saying which flag and
// what is accepted; for an operator config network value that does not parse, naming its key; also for a configFiles path that is not absolute or has a ".." component
// (the substrate writes it under the sandbox's root). `options.id` must not be empty.
[[nodiscard]] Result<SandboxPlan> compile(const profile::Profile& profile,
                                          const CompileOptions& options);

// "512Mi" → 536870912: digits, then nothing (bytes), Ki Mi Gi Ti (powers of 1024) or
// K M G T (powers of 1000); the grammar of profiles' memory and disk sizes and of the operator config's sizes. Fails with
// InvalidArgument for anything else, zero, or a value that does not fit in int64.
[[nodiscard]] Result<int64_t> parseMemoryBytes(std::string_view text);

// A fresh id: prefix + "-" + 8 lowercase hex digits from the kernel's random source.
std::string newSandboxId(std::string_view prefix);

// The plan as a document (JSON/YAML), field names in camelCase (allowedDNSSuffixes spelt as
// in the profile), in a fixed order after a leading `planVersion: 2`, and back. fromNode
// fails with InvalidArgument on a document that is not a plan this build wrote: another
// planVersion, a missing or unknown key, or a value of the wrong type.
doc::Node toNode(const SandboxPlan& plan);
[[nodiscard]] Result<SandboxPlan> fromNode(const doc::Node& node);

// The plan as one line of JSON (toNode), and back: the one codec of every plan that is stored
// (the fleet row, the sandbox's plan file) or sent (to a forked supervisor). fromJson fails
// with InvalidArgument naming `what` (e.g. "the stored plan of sb-1234abcd") when the text is
// not JSON or not a plan this build wrote.
std::string toJson(const SandboxPlan& plan);
[[nodiscard]] Result<SandboxPlan> fromJson(std::string_view text, std::string_view what);

}  // namespace km::plan
