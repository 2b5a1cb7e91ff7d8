// The SandboxProfile as typed data (apiVersion klankermaker.ai/v1alpha2), field for field
// as upstream klanker-maker defines it, plus km's `local` substrate and spec.runtime.resources.
// Optional sections and tri-state booleans are std::optional so "not written" stays distinct
// from "false".
// Money is integer micro-dollars (doc::Dollars), ratios parts per million (doc::Ratio).
// Plain data; the field descriptions (schema, docs) are in profile/schema.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "doc/describe.h"
#include "doc/node.h"

namespace km::profile {

using doc::Dollars;
using doc::Ratio;
using doc::StringMap;
using Strings = std::vector<std::string>;

struct Metadata {
  std::string name;
  StringMap labels;
  std::optional<std::string> prefix;  // sandbox ids are {prefix}-{8 hex}; default "sb"
  std::optional<bool> abstract;       // a fragment meant only to be extended
};

struct Lifecycle {
  std::string ttl;            // "0" = never expires, else 30m / 4h / 2d
  std::string idle_timeout;   // idleTimeout
  std::string teardown_policy;  // destroy | stop | retain
};

struct AdditionalVolume {
  int64_t size = 0;  // GiB
  std::string mount_point;
  std::optional<bool> encrypted;
};

struct AdditionalSnapshot {
  std::string snapshot_id;
  std::string mount_point;
  std::optional<std::string> device;
  std::optional<bool> encrypted;
  std::optional<int64_t> size;
};

struct VsCode {
  std::optional<bool> enabled;  // not written ⇒ true
};

struct Desktop {
  std::optional<bool> enabled;  // not written ⇒ false
  std::optional<std::string> mode;  // kiosk | full
  Strings browsers;
  std::optional<std::string> geometry;
};

// A number of CPUs, read exactly (never through a double) in thousandths: 0.5 → 500.
struct Cpus {
  int64_t millis = 0;
  bool operator==(const Cpus&) const = default;
};

// spec.runtime.resources — a km extension (upstream has no such field): explicit limits for
// the local substrate that override what instanceType implies, field by field.
struct RuntimeResources {
  std::optional<Cpus> cpus;           // > 0, at most 3 decimals
  std::optional<std::string> memory;  // "512Mi", "4Gi", "2G", "1073741824" (bytes)
  std::optional<int64_t> pids;        // ≥ 1
  std::optional<std::string> disk;    // same grammar as memory; overrides rootVolumeSize
};

struct Runtime {
  std::string substrate;  // local | ec2 | ecs | docker
  std::optional<bool> spot;
  std::string instance_type;
  std::string region;
  std::optional<int64_t> root_volume_size;
  std::optional<AdditionalVolume> additional_volume;
  std::vector<AdditionalSnapshot> additional_snapshots;
  std::optional<bool> hibernation;
  std::optional<std::string> ami;
  std::optional<std::string> image;  // km extension: the local root's OCI image ("host": the host's)
  std::optional<bool> mount_efs;
  std::optional<std::string> efs_mount_point;
  std::optional<VsCode> vscode;
  std::optional<Desktop> desktop;
  Strings az_preference;
  std::optional<RuntimeResources> resources;  // km extension
};

struct Execution {
  std::string shell;
  std::string working_dir;
  std::optional<bool> use_bedrock;
  std::optional<bool> privileged;
  StringMap env;
  StringMap config_files;  // absolute path → contents
  Strings init_commands;
  Strings init_commands_append;  // folded onto init_commands when extends is resolved
  Strings init_scripts;
  std::optional<std::string> rsync;
  Strings rsync_paths;
  std::optional<std::string> rsync_file_list;
};

struct GithubAccess {
  Strings allowed_repos;
  Strings allowed_refs;
  std::optional<bool> allow_ref_deletion;  // km extension: pushes may delete allowed refs
};

struct SourceAccess {
  std::string mode;  // allowlist | none
  std::optional<GithubAccess> github;
};

struct Egress {
  Strings allowed_dns_suffixes;
  Strings allowed_hosts;
};

struct Network {
  Egress egress;
  std::optional<bool> https_only;
  std::optional<std::string> enforcement;  // proxy (default) | ebpf | both
};

struct Iam {
  std::string role_session_duration;
  Strings allowed_regions;
  Strings allowed_secret_paths;
  std::optional<bool> allow_bedrock;
};

struct Sidecar {
  bool enabled = false;
  std::string image;
};

struct Sidecars {
  Sidecar dns_proxy;
  Sidecar http_proxy;
  Sidecar audit_log;
  Sidecar tracing;
};

struct LogDestination {
  std::string destination;  // cloudwatch | s3 | stdout
  std::optional<std::string> log_group;
};

struct ClaudeTelemetry {
  std::optional<bool> enabled;  // not written ⇒ true
  std::optional<bool> log_prompts;
  std::optional<bool> log_tool_details;
};

struct TlsCapture {
  bool enabled = false;
  Strings libraries;  // openssl | gnutls | nss | go | rustls | all
  std::optional<bool> capture_payloads;
};

struct Observability {
  LogDestination command_log;
  LogDestination network_log;
  std::optional<ClaudeTelemetry> claude_telemetry;
  std::optional<TlsCapture> tls_capture;
  std::optional<bool> learn_mode;
};

struct Artifacts {
  Strings paths;
  std::optional<int64_t> max_size_mb;  // 0 = unlimited
  std::optional<std::string> replication_region;
};

struct SpendLimit {
  Dollars max_spend_usd;
};

struct Budget {
  std::optional<SpendLimit> compute;
  std::optional<SpendLimit> ai;
  std::optional<Ratio> warning_threshold;  // 0 or unset ⇒ 0.8
};

struct Email {
  std::optional<std::string> signing;         // required | optional | off
  std::optional<std::string> verify_inbound;
  std::optional<std::string> encryption;
  std::optional<std::string> alias;
  Strings allowed_senders;
};

struct Secrets {
  std::optional<std::string> sops_file;
  // km extension: a secret (env var of the bundle or of spec.execution.env) → the hosts it
  // is for. Such a secret is a sentinel inside the sandbox; the proxy puts the real value in
  // requests to those hosts only.
  doc::StringListMap hosts;
};

struct Cli {
  std::optional<bool> no_bedrock;
};

struct AgentTools {
  Strings auto_approve;
  Strings deny;
};

struct ClaudeAgent {
  Strings trusted_directories;
  std::optional<AgentTools> tools;
  std::optional<doc::Node> permissions;  // free-form, passed to Claude's settings
  Strings args;
};

struct CodexAgent {
  std::optional<AgentTools> tools;
  Strings args;
  std::optional<std::string> local_base_url;
  std::optional<std::string> local_model;  // default "local" when the block is written
};

struct Agent {
  std::optional<std::string> default_agent;  // `default`: claude | codex
  std::optional<ClaudeAgent> claude;
  std::optional<CodexAgent> codex;
};

struct NotificationEvents {
  std::optional<bool> on_permission;
  std::optional<bool> on_idle;
  std::optional<int64_t> cooldown_seconds;
};

struct NotificationEmail {
  std::optional<bool> enabled;  // not written ⇒ true
  std::optional<std::string> address;
};

struct SlackInbound {
  std::optional<bool> enabled;
  std::optional<bool> mention_only;
  std::optional<bool> react_always;  // not written ⇒ true
  Strings allow;
  std::optional<int64_t> max_concurrent_threads;  // not written ⇒ 1
};

struct Toggle {
  std::optional<bool> enabled;
};

struct SlackInvites {
  Strings emails;
  std::optional<bool> use_connect;  // not written ⇒ true
};

struct Slack {
  std::optional<bool> enabled;
  std::optional<bool> per_sandbox;
  std::optional<std::string> channel_override;
  std::optional<std::string> channel_name;
  std::optional<bool> archive_on_destroy;  // not written ⇒ true
  std::optional<bool> private_channel;     // `private`
  std::optional<SlackInbound> inbound;
  std::optional<Toggle> transcript;
  std::optional<SlackInvites> invites;
};

struct InboundToggle {
  std::optional<Toggle> inbound;
};

struct Notification {
  std::optional<NotificationEvents> events;
  std::optional<NotificationEmail> email;
  std::optional<InboundToggle> github;
  std::optional<InboundToggle> h1;
  std::optional<Slack> slack;
};

struct ActionLimit {
  std::optional<int64_t> lifetime;
  std::optional<int64_t> per_hour;
  std::optional<int64_t> per_day;
  std::optional<std::string> on_breach;  // warn (default) | block | freeze
};

struct Limits {
  std::optional<ActionLimit> github_pr;
  std::optional<ActionLimit> github_comment;
  std::optional<ActionLimit> github_review;
  std::optional<ActionLimit> email_send;
  std::optional<ActionLimit> slack_post;
  std::optional<ActionLimit> h1_comment;
};

struct Spec {
  Lifecycle lifecycle;
  Runtime runtime;
  Execution execution;
  SourceAccess source_access;
  Network network;
  Iam iam;
  Sidecars sidecars;
  Observability observability;
  std::optional<Artifacts> artifacts;
  std::optional<Budget> budget;
  std::optional<Email> email;
  std::optional<Secrets> secrets;
  std::optional<Cli> cli;
  std::optional<Agent> agent;
  std::optional<Notification> notification;
  std::optional<Limits> limits;
};

struct Profile {
  std::string api_version;
  std::string kind;
  Metadata metadata;
  std::optional<doc::StringOrList> extends;
  Spec spec;
};

}  // namespace km::profile
