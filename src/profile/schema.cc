// The SandboxProfile's field descriptions: one place that gives km its decoder, its
// encoder (`km profile show`) and its JSON Schema (`km schema`). Field names, required
// sets and constraints follow upstream's v1alpha2 schema; km adds the `local` substrate,
// spec.runtime.resources, and patterns for regions, instance types, hosts, repos and refs.
#include "profile/schema.h"

#include "doc/describe.h"
#include "profile/patterns.h"
#include "profile/types.h"

namespace km::doc {

using namespace km::profile;  // NOLINT: the descriptions below name every profile type
namespace pt = km::profile::patterns;


template <>
struct Describe<Metadata> {
  static constexpr std::string_view kDoc = "Who the profile is.";
  static void build(Fields<Metadata>& f) {
    f.add("name", &Metadata::name, "Profile name.").required().minLength(1).exampleValue("my-profile");
    f.add("labels", &Metadata::labels, "Free-form string labels.");
    f.add("prefix", &Metadata::prefix, "Sandbox id prefix: ids are {prefix}-{8 hex}.")
        .pattern(pt::kPrefix, "a lowercase word of 1 to 12 letters and digits starting with a letter")
        .defaultValue("sb");
    f.add("abstract", &Metadata::abstract,
          "A fragment meant only to be extended; `km validate` skips it.");
  }
};

template <>
struct Describe<Lifecycle> {
  static constexpr std::string_view kDoc = "How long the sandbox lives.";
  static void build(Fields<Lifecycle>& f) {
    f.add("ttl", &Lifecycle::ttl, "Time to live: \"0\" (never) or a number and unit (s, m, h, d).")
        .required().pattern(pt::kTtl, "\"0\" or a number and one unit (s, m, h, d) like \"4h\"")
        .exampleValue("\"4h\"");
    f.add("idleTimeout", &Lifecycle::idle_timeout,
          "Idle time after which the teardown policy applies: a number and unit (s, m, h, d).")
        .required().pattern(pt::kIdle, "a number and one unit (s, m, h, d) like \"1h\"")
        .exampleValue("\"1h\"");
    f.add("teardownPolicy", &Lifecycle::teardown_policy, "What expiry does to the sandbox.")
        .required().oneOf({"destroy", "stop", "retain"}).exampleValue("destroy");
  }
};

template <>
struct Describe<AdditionalVolume> {
  static constexpr std::string_view kDoc = "An extra volume.";
  static void build(Fields<AdditionalVolume>& f) {
    f.add("size", &AdditionalVolume::size, "Size in GiB.").required().min(1).exampleValue("20");
    f.add("mountPoint", &AdditionalVolume::mount_point, "Where it is mounted.").required().minLength(1)
        .exampleValue("/data");
    f.add("encrypted", &AdditionalVolume::encrypted, "Encrypt the volume.");
  }
};

template <>
struct Describe<AdditionalSnapshot> {
  static constexpr std::string_view kDoc = "A volume restored from an EBS snapshot (ec2 only).";
  static void build(Fields<AdditionalSnapshot>& f) {
    f.add("snapshotId", &AdditionalSnapshot::snapshot_id, "EBS snapshot id.")
        .required().pattern(pt::kSnapshotId, "a snapshot id like snap-0123abcd").exampleValue("snap-0123abcd");
    f.add("mountPoint", &AdditionalSnapshot::mount_point, "Absolute mount path.")
        .required().minLength(1).pattern(pt::kAbsolutePath, "an absolute path").exampleValue("/data2");
    f.add("device", &AdditionalSnapshot::device, "Block device name.")
        .pattern(pt::kDevice, "a device /dev/sdf … /dev/sdp");
    f.add("encrypted", &AdditionalSnapshot::encrypted, "Encrypt the volume.");
    f.add("size", &AdditionalSnapshot::size, "Size in GiB (default: the snapshot's).").min(1);
  }
};

template <>
struct Describe<VsCode> {
  static constexpr std::string_view kDoc = "Remote VS Code server.";
  static void build(Fields<VsCode>& f) {
    f.add("enabled", &VsCode::enabled, "Run it.").defaultValue("true");
  }
};

template <>
struct Describe<Desktop> {
  static constexpr std::string_view kDoc = "A remote desktop in the sandbox.";
  static void build(Fields<Desktop>& f) {
    f.add("enabled", &Desktop::enabled, "Run it.").defaultValue("false");
    f.add("mode", &Desktop::mode, "kiosk (one browser) or full desktop.").oneOf({"kiosk", "full"})
        .defaultValue("kiosk");
    f.add("browsers", &Desktop::browsers, "Browsers to install.")
        .oneOf({"firefox", "chromium", "chrome", "brave"});
    f.add("geometry", &Desktop::geometry, "Screen size WIDTHxHEIGHT.")
        .pattern(pt::kGeometry, "WIDTHxHEIGHT like 1920x1080").defaultValue("1920x1080");
  }
};

// ---- spec.runtime.resources (km extension) ---------------------------------------------

namespace {

constexpr std::string_view kMemory = kSizePattern;
constexpr int64_t kMaxCpus = 4096;
constexpr int64_t kMaxPids = 4'194'304;  // the kernel's PID_MAX_LIMIT on 64-bit

// "0.5" → 500, exactly (through the money parser's millionths, never a double).
Result<int64_t> parseCpuMillis(const std::string& text) {
  auto ppm = parseRatio(text);
  if (!ppm || *ppm % 1000 != 0) {
    return invalidArgument("\"" + text + "\" is not a plain decimal number of CPUs with at most 3 "
                           "decimals, like 0.5 or 2");
  }
  if (*ppm <= 0) return invalidArgument("must be more than 0, got " + text);
  if (*ppm > kMaxCpus * kPpmOne) {
    return invalidArgument("must be at most " + std::to_string(kMaxCpus) + ", got " + text);
  }
  return *ppm / 1000;
}

std::string formatCpuMillis(int64_t millis) {
  std::string frac = std::to_string(1000 + millis % 1000).substr(1);  // "500", "050", "000"
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return std::to_string(millis / 1000) + (frac.empty() ? "" : "." + frac);
}

}  // namespace

// CPUs are a YAML number (0.5, 2), read exactly like money: a quoted "2" is refused.
template <>
struct Codec<Cpus> {
  static void decode(const Node& n, Cpus& v, DecodeContext& c, const std::string& p, const Rules&) {
    if (n.kind() != Node::Kind::kInt && n.kind() != Node::Kind::kFloat) {
      return c.typeError(n, p, "a number of CPUs like 0.5 or 2");
    }
    auto millis = parseCpuMillis(n.text());
    if (!millis) return c.error(n, p, millis.error().message());
    v.millis = *millis;
  }
  static std::optional<Node> encode(const Cpus& v) { return Node::number(formatCpuMillis(v.millis)); }
  static Node schema(const Rules&) {
    Node s = Node::map();
    s.set("type", Node::string("number"));
    s.set("exclusiveMinimum", Node::integer(0));
    s.set("maximum", Node::integer(kMaxCpus));
    return s;
  }
};

template <>
struct Describe<RuntimeResources> {
  static constexpr std::string_view kDoc =
      "km extension (not in upstream): explicit local limits that override, field by field, the "
      "cpu and memory instanceType implies and the disk rootVolumeSize gives. Used by the local "
      "substrate.";
  static void build(Fields<RuntimeResources>& f) {
    f.add("cpus", &RuntimeResources::cpus,
          "CPUs: a number more than 0 with at most 3 decimals, like 0.5 or 2 (at most 4096).");
    f.add("memory", &RuntimeResources::memory,
          "Memory: a whole number of bytes, optionally followed by Ki, Mi, Gi or Ti (powers of 1024) "
          "or K, M, G or T (powers of 1000), like 512Mi or 4Gi.")
        .pattern(kMemory, "a memory size like 512Mi, 4Gi or 2G (a whole number above 0 with an "
                          "optional suffix Ki, Mi, Gi, Ti, K, M, G or T, at most about 10^18 bytes)");
    f.add("pids", &RuntimeResources::pids, "Most processes and threads alive at once.")
        .min(1).max(kMaxPids).defaultValue("4096");
    f.add("disk", &RuntimeResources::disk,
          "Disk: everything the sandbox writes (its changes to the root filesystem, workspace, "
          "homes), in the memory syntax, like 20Gi. Overrides rootVolumeSize.")
        .pattern(kMemory, "a size like 512Mi, 20Gi or 2G (a whole number above 0 with an optional "
                          "suffix Ki, Mi, Gi, Ti, K, M, G or T, at most about 10^18 bytes)");
  }
};

template <>
struct Describe<Runtime> {
  static constexpr std::string_view kDoc = "Where and on what the sandbox runs.";
  static void build(Fields<Runtime>& f) {
    f.add("substrate", &Runtime::substrate,
          "local (this machine), docker, ec2 or ecs. Cloud substrates fall back to local when "
          "the operator config has no cloud.")
        .required().oneOf({"local", "ec2", "ecs", "docker"}).exampleValue("local");
    f.add("spot", &Runtime::spot, "Use spot capacity (ec2) or FARGATE_SPOT (ecs).");
    f.add("instanceType", &Runtime::instance_type,
          "Instance type; on the local substrate it sets the cpu and memory limits.")
        .required().minLength(1)
        .pattern(pt::kInstanceType, "an instance type like t3.medium").exampleValue("t3.medium");
    f.add("region", &Runtime::region, "Cloud region.").required().minLength(1)
        .pattern(pt::kRegion, "a region like us-east-1").exampleValue("us-east-1");
    f.add("rootVolumeSize", &Runtime::root_volume_size, "Root volume GiB (0 = image default).").min(0);
    f.add("additionalVolume", &Runtime::additional_volume, "An extra volume.");
    f.add("additionalSnapshots", &Runtime::additional_snapshots, "Volumes from snapshots (ec2).");
    f.add("hibernation", &Runtime::hibernation, "Keep RAM on pause (needs a root volume larger than RAM).");
    f.add("ami", &Runtime::ami, "OS image: a known name or an ami-… id.")
        .oneOf({"amazon-linux-2023", "ubuntu-24.04", "ubuntu-22.04", ""})
        .pattern(pt::kAmiId, "an image id like ami-0123abcd")
        .enumOrPattern();
    f.add("image", &Runtime::image,
          "km extension: the OCI image a local sandbox's root comes from (a reference like "
          "debian:bookworm, a baked image's name, or host for the host's own root); overrides ami.")
        .minLength(1).pattern(R"(^[^\s]+$)", "an image reference like debian:bookworm, or host")
        .exampleValue("docker.io/library/ubuntu:24.04");
    f.add("mountEFS", &Runtime::mount_efs, "Mount the shared EFS file system.");
    f.add("efsMountPoint", &Runtime::efs_mount_point, "Where EFS is mounted.").minLength(1)
        .defaultValue("/shared");
    f.add("vscode", &Runtime::vscode, "Remote VS Code server.");
    f.add("desktop", &Runtime::desktop, "Remote desktop.");
    f.add("azPreference", &Runtime::az_preference, "Availability zones to try, in order.").minLength(1);
    f.add("resources", &Runtime::resources,
          "km extension: explicit cpus, memory and pids limits for the local substrate, overriding "
          "what instanceType implies.");
  }
};

template <>
struct Describe<Execution> {
  static constexpr std::string_view kDoc = "What runs in the sandbox and how.";
  static void build(Fields<Execution>& f) {
    f.add("shell", &Execution::shell, "Login shell.").required().minLength(1).exampleValue("/bin/bash");
    f.add("workingDir", &Execution::working_dir, "Persistent working directory.")
        .required().minLength(1).exampleValue("/workspace");
    f.add("useBedrock", &Execution::use_bedrock, "Agents call models through AWS Bedrock.");
    f.add("privileged", &Execution::privileged, "Give the agent user sudo.");
    f.add("env", &Execution::env, "Environment variables for agent processes.");
    f.add("configFiles", &Execution::config_files, "Files written into the sandbox: absolute path → contents.");
    f.add("initCommands", &Execution::init_commands, "Commands run once at create, in order.");
    f.add("initCommandsAppend", &Execution::init_commands_append,
          "Commands appended after every inherited and own initCommands (folded by extends).");
    f.add("initScripts", &Execution::init_scripts, "Scripts run once at create.");
    f.add("rsync", &Execution::rsync, "Named rsync snapshot to restore.");
    f.add("rsyncPaths", &Execution::rsync_paths, "Home-relative paths to carry between sandboxes.");
    f.add("rsyncFileList", &Execution::rsync_file_list, "File listing paths to carry.");
  }
};

template <>
struct Describe<GithubAccess> {
  static constexpr std::string_view kDoc = "GitHub repositories and refs the agent may use.";
  static void build(Fields<GithubAccess>& f) {
    f.add("allowedRepos", &GithubAccess::allowed_repos, "owner/repo, owner/* or *.")
        .required().pattern(pt::kRepo, "a repository like owner/repo, owner/* or *")
        .exampleValue("[my-org/api]");
    f.add("allowedRefs", &GithubAccess::allowed_refs, "Branch names or globs that may be pushed.")
        .pattern(pt::kRef, "a branch name or glob like main or feature/*");
    f.add("allowRefDeletion", &GithubAccess::allow_ref_deletion,
          "km extension: pushes may delete refs that allowedRefs allows (default false).");
  }
};

template <>
struct Describe<SourceAccess> {
  static constexpr std::string_view kDoc = "Source code access.";
  static void build(Fields<SourceAccess>& f) {
    f.add("mode", &SourceAccess::mode, "allowlist or none.").required().oneOf({"allowlist", "none"})
        .exampleValue("allowlist");
    f.add("github", &SourceAccess::github, "GitHub allowlist.");
  }
};

template <>
struct Describe<Egress> {
  static constexpr std::string_view kDoc = "Names the sandbox may reach.";
  static void build(Fields<Egress>& f) {
    f.add("allowedDNSSuffixes", &Egress::allowed_dns_suffixes,
          "A domain and all its subdomains (.example.com and example.com mean the same); * = all.")
        .required().pattern(pt::kDnsSuffix, "a DNS suffix like .example.com").exampleValue("[]");
    f.add("allowedHosts", &Egress::allowed_hosts, "Exact host names; * = all.")
        .required()
        .pattern(pt::kHost,
                 "one exact host name without port or wildcard (put a domain with its subdomains in "
                 "allowedDNSSuffixes as .example.com)")
        .exampleValue("[]");
  }
};

template <>
struct Describe<Network> {
  static constexpr std::string_view kDoc = "Network policy.";
  static void build(Fields<Network>& f) {
    f.add("egress", &Network::egress, "Allowed destinations.").required()
        .exampleValue("{allowedDNSSuffixes: [], allowedHosts: []}");
    f.add("httpsOnly", &Network::https_only, "Refuse plain HTTP.");
    f.add("enforcement", &Network::enforcement, "proxy, ebpf or both.")
        .oneOf({"proxy", "ebpf", "both"}).defaultValue("proxy");
  }
};

template <>
struct Describe<Iam> {
  static constexpr std::string_view kDoc = "Cloud identity of the sandbox.";
  static void build(Fields<Iam>& f) {
    f.add("roleSessionDuration", &Iam::role_session_duration, "Credential lifetime (s, m or h).")
        .required().pattern(pt::kSessionDuration, "a number and one unit (s, m or h) like \"1h\"")
        .exampleValue("\"1h\"");
    f.add("allowedRegions", &Iam::allowed_regions, "Regions the role may act in.")
        .required().minItems(1).pattern(pt::kRegion, "a region like us-east-1").exampleValue("[us-east-1]");
    f.add("allowedSecretPaths", &Iam::allowed_secret_paths, "Secret paths the sandbox may read.");
    f.add("allowBedrock", &Iam::allow_bedrock, "Allow Bedrock model calls.");
  }
};

template <>
struct Describe<Sidecar> {
  static constexpr std::string_view kDoc = "A sidecar service.";
  static void build(Fields<Sidecar>& f) {
    f.add("enabled", &Sidecar::enabled, "Run it.").required().exampleValue("true");
    f.add("image", &Sidecar::image, "Image name.").required().minLength(1).exampleValue("km-dns-proxy:latest");
  }
};

template <>
struct Describe<Sidecars> {
  static constexpr std::string_view kDoc = "The four sidecars.";
  static void build(Fields<Sidecars>& f) {
    f.add("dnsProxy", &Sidecars::dns_proxy, "DNS allowlist resolver.").required()
        .exampleValue("{enabled: true, image: km-dns-proxy:latest}");
    f.add("httpProxy", &Sidecars::http_proxy, "HTTP(S) proxy.").required()
        .exampleValue("{enabled: true, image: km-http-proxy:latest}");
    f.add("auditLog", &Sidecars::audit_log, "Audit log.").required()
        .exampleValue("{enabled: true, image: km-audit-log:latest}");
    f.add("tracing", &Sidecars::tracing, "Tracing.").required()
        .exampleValue("{enabled: true, image: km-tracing:latest}");
  }
};

template <>
struct Describe<LogDestination> {
  static constexpr std::string_view kDoc = "Where a log goes.";
  static void build(Fields<LogDestination>& f) {
    f.add("destination", &LogDestination::destination,
          "cloudwatch, s3, stdout or file (km); locally every destination is the sandbox's rotated file (docs/audit.md).")
        .required().oneOf({"cloudwatch", "s3", "stdout", "file"}).exampleValue("stdout");
    f.add("logGroup", &LogDestination::log_group, "Log group name.");
  }
};

template <>
struct Describe<ClaudeTelemetry> {
  static constexpr std::string_view kDoc = "Claude Code telemetry.";
  static void build(Fields<ClaudeTelemetry>& f) {
    f.add("enabled", &ClaudeTelemetry::enabled, "Collect it.").defaultValue("true");
    f.add("logPrompts", &ClaudeTelemetry::log_prompts, "Include prompts.");
    f.add("logToolDetails", &ClaudeTelemetry::log_tool_details, "Include tool details.");
  }
};

template <>
struct Describe<TlsCapture> {
  static constexpr std::string_view kDoc = "Plaintext capture of TLS libraries' traffic.";
  static void build(Fields<TlsCapture>& f) {
    f.add("enabled", &TlsCapture::enabled, "Capture.").required().exampleValue("true");
    f.add("libraries", &TlsCapture::libraries, "Libraries to hook (default openssl).")
        .oneOf({"openssl", "gnutls", "nss", "go", "rustls", "all"});
    f.add("capturePayloads", &TlsCapture::capture_payloads, "Keep payload bytes.");
  }
};

template <>
struct Describe<Observability> {
  static constexpr std::string_view kDoc = "Logs and telemetry.";
  static void build(Fields<Observability>& f) {
    f.add("commandLog", &Observability::command_log, "Command log destination.").required()
        .exampleValue("{destination: stdout}");
    f.add("networkLog", &Observability::network_log, "Network log destination.").required()
        .exampleValue("{destination: stdout}");
    f.add("claudeTelemetry", &Observability::claude_telemetry, "Claude Code telemetry.");
    f.add("tlsCapture", &Observability::tls_capture, "TLS plaintext capture.");
    f.add("learnMode", &Observability::learn_mode, "Record traffic to generate a profile.");
  }
};

template <>
struct Describe<Artifacts> {
  static constexpr std::string_view kDoc = "Files kept when the sandbox ends.";
  static void build(Fields<Artifacts>& f) {
    f.add("paths", &Artifacts::paths, "Paths to keep.");
    f.add("maxSizeMB", &Artifacts::max_size_mb, "Size cap in MB (0 = unlimited).").min(0);
    f.add("replicationRegion", &Artifacts::replication_region, "Replicate to this region.");
  }
};

template <>
struct Describe<SpendLimit> {
  static constexpr std::string_view kDoc = "A spend cap.";
  static void build(Fields<SpendLimit>& f) {
    f.add("maxSpendUSD", &SpendLimit::max_spend_usd, "Cap in US dollars (0 = not enforced).")
        .required().min(0).exampleValue("1.00");
  }
};

template <>
struct Describe<Budget> {
  static constexpr std::string_view kDoc = "Spend caps for compute and AI.";
  static void build(Fields<Budget>& f) {
    f.add("compute", &Budget::compute, "Compute cap.");
    f.add("ai", &Budget::ai, "AI model spend cap.");
    f.add("warningThreshold", &Budget::warning_threshold, "Warn at this fraction of a cap.")
        .min(0).max(kPpmOne).defaultValue("0.8");
  }
};

template <>
struct Describe<Email> {
  static constexpr std::string_view kDoc = "Signed and encrypted mail between sandboxes.";
  static void build(Fields<Email>& f) {
    f.add("signing", &Email::signing, "Sign outgoing mail.").oneOf({"required", "optional", "off"});
    f.add("verifyInbound", &Email::verify_inbound, "Verify incoming signatures.")
        .oneOf({"required", "optional", "off"});
    f.add("encryption", &Email::encryption, "Encrypt mail.").oneOf({"required", "optional", "off"});
    f.add("alias", &Email::alias, "Mail alias like team.agent.")
        .pattern(pt::kEmailAlias, "an alias like team.agent (lowercase, one dot)");
    f.add("allowedSenders", &Email::allowed_senders,
          "Who may mail this sandbox: self, a sandbox id, an alias glob, an address, *@domain or *.");
  }
};

template <>
struct Describe<Secrets> {
  static constexpr std::string_view kDoc = "Secrets.";
  static void build(Fields<Secrets>& f) {
    f.add("sopsFile", &Secrets::sops_file, "SOPS-encrypted secrets file (*.enc.yaml).");
    f.add("hosts", &Secrets::hosts,
          "km extension: secret name → the hosts it is for. Inside the sandbox the secret is a "
          "sentinel; the proxy swaps in the real value on requests to those hosts only.");
  }
};

template <>
struct Describe<Cli> {
  static constexpr std::string_view kDoc = "CLI defaults.";
  static void build(Fields<Cli>& f) {
    f.add("noBedrock", &Cli::no_bedrock, "Agents use the provider's API directly, not Bedrock.");
  }
};

template <>
struct Describe<AgentTools> {
  static constexpr std::string_view kDoc = "Tool permissions.";
  static void build(Fields<AgentTools>& f) {
    f.add("autoApprove", &AgentTools::auto_approve, "Tools run without asking.");
    f.add("deny", &AgentTools::deny, "Tools never run.");
  }
};

template <>
struct Describe<ClaudeAgent> {
  static constexpr std::string_view kDoc = "Claude Code settings.";
  static void build(Fields<ClaudeAgent>& f) {
    f.add("trustedDirectories", &ClaudeAgent::trusted_directories, "Directories Claude trusts.");
    f.add("tools", &ClaudeAgent::tools, "Tool permissions.");
    f.add("permissions", &ClaudeAgent::permissions, "Raw Claude permissions object.");
    f.add("args", &ClaudeAgent::args, "Extra command-line arguments.");
  }
};

template <>
struct Describe<CodexAgent> {
  static constexpr std::string_view kDoc = "Codex settings.";
  static void build(Fields<CodexAgent>& f) {
    f.add("tools", &CodexAgent::tools, "Tool permissions.");
    f.add("args", &CodexAgent::args, "Extra command-line arguments.");
    f.add("localBaseURL", &CodexAgent::local_base_url, "OpenAI-compatible local model server.");
    f.add("localModel", &CodexAgent::local_model, "Model name at the local server.").defaultValue("local");
  }
};

template <>
struct Describe<Agent> {
  static constexpr std::string_view kDoc = "Which agent runs and how.";
  static void build(Fields<Agent>& f) {
    f.add("default", &Agent::default_agent, "claude or codex.").oneOf({"claude", "codex"})
        .defaultValue("claude");
    f.add("claude", &Agent::claude, "Claude Code settings.");
    f.add("codex", &Agent::codex, "Codex settings.");
  }
};

template <>
struct Describe<NotificationEvents> {
  static constexpr std::string_view kDoc = "Which events notify.";
  static void build(Fields<NotificationEvents>& f) {
    f.add("onPermission", &NotificationEvents::on_permission, "Agent waits for permission.");
    f.add("onIdle", &NotificationEvents::on_idle, "Agent is idle.");
    f.add("cooldownSeconds", &NotificationEvents::cooldown_seconds, "Minimum gap between notices.").min(0);
  }
};

template <>
struct Describe<NotificationEmail> {
  static constexpr std::string_view kDoc = "Email notices.";
  static void build(Fields<NotificationEmail>& f) {
    f.add("enabled", &NotificationEmail::enabled, "Send them.").defaultValue("true");
    f.add("address", &NotificationEmail::address, "Recipient.").format("email");
  }
};

template <>
struct Describe<SlackInbound> {
  static constexpr std::string_view kDoc = "Slack messages into the sandbox.";
  static void build(Fields<SlackInbound>& f) {
    f.add("enabled", &SlackInbound::enabled, "Accept them.");
    f.add("mentionOnly", &SlackInbound::mention_only, "Only messages that mention the bot.");
    f.add("reactAlways", &SlackInbound::react_always, "Acknowledge with a reaction.").defaultValue("true");
    f.add("allow", &SlackInbound::allow, "Slack user ids allowed to trigger.")
        .pattern(pt::kSlackUser, "a Slack user id like U012AB3CD");
    f.add("maxConcurrentThreads", &SlackInbound::max_concurrent_threads, "Threads worked at once.")
        .min(1).defaultValue("1");
  }
};

template <>
struct Describe<Toggle> {
  static constexpr std::string_view kDoc = "";
  static void build(Fields<Toggle>& f) { f.add("enabled", &Toggle::enabled, "On or off."); }
};

template <>
struct Describe<SlackInvites> {
  static constexpr std::string_view kDoc = "Who is invited to the channel.";
  static void build(Fields<SlackInvites>& f) {
    f.add("emails", &SlackInvites::emails, "Addresses to invite.").format("email");
    f.add("useConnect", &SlackInvites::use_connect, "Invite through Slack Connect.").defaultValue("true");
  }
};

template <>
struct Describe<Slack> {
  static constexpr std::string_view kDoc = "Slack notices and chat.";
  static void build(Fields<Slack>& f) {
    f.add("enabled", &Slack::enabled, "Post to Slack.");
    f.add("perSandbox", &Slack::per_sandbox, "One channel per sandbox.");
    f.add("channelOverride", &Slack::channel_override, "Post to this channel id instead.")
        .pattern(pt::kSlackChannel, "a Slack channel id like C012AB3CD");
    f.add("channelName", &Slack::channel_name, "Per-sandbox channel name; {profile} {alias} {id} expand.");
    f.add("archiveOnDestroy", &Slack::archive_on_destroy, "Archive the channel on destroy.")
        .defaultValue("true");
    f.add("private", &Slack::private_channel, "Make the per-sandbox channel private.");
    f.add("inbound", &Slack::inbound, "Messages into the sandbox.");
    f.add("transcript", &Slack::transcript, "Post session transcripts.");
    f.add("invites", &Slack::invites, "Channel invites.");
  }
};

template <>
struct Describe<InboundToggle> {
  static constexpr std::string_view kDoc = "";
  static void build(Fields<InboundToggle>& f) {
    f.add("inbound", &InboundToggle::inbound, "Inbound events queue.");
  }
};

template <>
struct Describe<Notification> {
  static constexpr std::string_view kDoc = "Notices to people.";
  static void build(Fields<Notification>& f) {
    f.add("events", &Notification::events, "Which events notify.");
    f.add("email", &Notification::email, "Email notices.");
    f.add("github", &Notification::github, "GitHub inbound events.");
    f.add("h1", &Notification::h1, "HackerOne inbound events.");
    f.add("slack", &Notification::slack, "Slack.");
  }
};

template <>
struct Describe<ActionLimit> {
  static constexpr std::string_view kDoc = "Caps on an outbound action (0 = deny the first).";
  static void build(Fields<ActionLimit>& f) {
    f.add("lifetime", &ActionLimit::lifetime, "Over the sandbox's life.").min(0);
    f.add("perHour", &ActionLimit::per_hour, "Per clock hour.").min(0);
    f.add("perDay", &ActionLimit::per_day, "Per UTC day.").min(0);
    f.add("onBreach", &ActionLimit::on_breach, "warn, block or freeze.")
        .oneOf({"warn", "block", "freeze"}).defaultValue("warn");
  }
};

template <>
struct Describe<Limits> {
  static constexpr std::string_view kDoc = "Caps on outbound actions.";
  static void build(Fields<Limits>& f) {
    f.add("github_pr", &Limits::github_pr, "Pull requests opened.");
    f.add("github_comment", &Limits::github_comment, "Issue and PR comments.");
    f.add("github_review", &Limits::github_review, "PR reviews.");
    f.add("email_send", &Limits::email_send, "Mails sent.");
    f.add("slack_post", &Limits::slack_post, "Slack posts.");
    f.add("h1_comment", &Limits::h1_comment, "HackerOne comments.");
  }
};

template <>
struct Describe<Spec> {
  static constexpr std::string_view kDoc = "What the sandbox may do.";
  static void build(Fields<Spec>& f) {
    f.add("lifecycle", &Spec::lifecycle, "Lifetime.").required()
        .exampleValue("{ttl: \"4h\", idleTimeout: \"1h\", teardownPolicy: destroy}");
    f.add("runtime", &Spec::runtime, "Substrate and size.").required()
        .exampleValue("{substrate: local, instanceType: t3.medium, region: us-east-1}");
    f.add("execution", &Spec::execution, "Processes.").required()
        .exampleValue("{shell: /bin/bash, workingDir: /workspace}");
    f.add("sourceAccess", &Spec::source_access, "Source code access.").required()
        .exampleValue("{mode: none}");
    f.add("network", &Spec::network, "Network policy.").required()
        .exampleValue("{egress: {allowedDNSSuffixes: [], allowedHosts: []}}");
    f.add("iam", &Spec::iam, "Cloud identity.").required()
        .exampleValue("{roleSessionDuration: \"1h\", allowedRegions: [us-east-1]}");
    f.add("sidecars", &Spec::sidecars, "Sidecars.").required()
        .exampleValue("{dnsProxy: …, httpProxy: …, auditLog: …, tracing: …}");
    f.add("observability", &Spec::observability, "Logs.").required()
        .exampleValue("{commandLog: {destination: stdout}, networkLog: {destination: stdout}}");
    f.add("artifacts", &Spec::artifacts, "Artifacts kept.");
    f.add("budget", &Spec::budget, "Spend caps.");
    f.add("email", &Spec::email, "Mail.");
    f.add("secrets", &Spec::secrets, "Secrets.");
    f.add("cli", &Spec::cli, "CLI defaults.");
    f.add("agent", &Spec::agent, "Agent settings.");
    f.add("notification", &Spec::notification, "Notices.");
    f.add("limits", &Spec::limits, "Outbound action caps.");
  }
};

template <>
struct Describe<Profile> {
  static constexpr std::string_view kDoc =
      "A km / klanker-maker SandboxProfile: what an AI agent's sandbox may do.";
  static void build(Fields<Profile>& f) {
    f.add("apiVersion", &Profile::api_version, "klankermaker.ai/v1alpha2 (v1alpha1 is migrated).")
        .required().pattern(pt::kApiVersion, "an API version ending in /v1alpha2")
        .exampleValue("klankermaker.ai/v1alpha2");
    f.add("kind", &Profile::kind, "Always SandboxProfile.").required().oneOf({"SandboxProfile"})
        .exampleValue("SandboxProfile");
    f.add("metadata", &Profile::metadata, "Name and labels.").required().exampleValue("{name: my-profile}");
    f.add("extends", &Profile::extends,
          "Parent profile(s): built-in names or paths relative to the search path, merged left to right.");
    f.add("spec", &Profile::spec, "The policy.").required()
        .exampleValue("{lifecycle: …, runtime: …, execution: …, sourceAccess: …, network: …, iam: …, "
                      "sidecars: …, observability: …}");
  }
};

}  // namespace km::doc

namespace km::profile {

Profile decodeProfile(const doc::Node& node, doc::Diagnostics& diags, bool check_required) {
  return doc::decode<Profile>(node, diags, "", check_required);
}

doc::Node encodeProfile(const Profile& p) { return doc::encode(p); }

doc::Node profileJsonSchema() {
  doc::Node s = doc::schemaOf<Profile>();
  doc::Node out = doc::Node::map();
  out.set("$schema", doc::Node::string("https://json-schema.org/draft/2020-12/schema"));
  out.set("$id", doc::Node::string("https://klankermaker.ai/schemas/sandbox-profile/v1alpha2"));
  out.set("title", doc::Node::string("SandboxProfile"));
  for (auto& e : s.entries()) out.set(e.key, e.value);
  return out;
}

}  // namespace km::profile
