// km::config — the operator's settings (config.yaml): where profiles are searched, which
// DNS upstream and CA the data plane trusts, the sandbox subnet pool, extra AI endpoints,
// pricing overrides, sandbox disks and log bounds. Loaded and validated like a profile (located errors, did-you-mean).
// Plain data and pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/rotating_file.h"
#include "doc/diagnostic.h"
#include "doc/node.h"

namespace km::config {

struct DnsConfig {
  std::vector<std::string> upstream;  // "ip" or "ip:port" / "[v6]:port"; default: resolv.conf
};

struct TlsConfig {
  std::optional<std::string> extra_ca_file;  // extra trust for servers the proxy dials
};

struct NetworkConfig {
  std::optional<std::string> subnet_pool;  // IPv4 CIDR for sandbox veths; default 10.213.0.0/16
  std::vector<std::string> allow_cidrs;    // private ranges every sandbox may reach
};

struct ProxyConfig {
  std::vector<int64_t> connect_ports;  // CONNECT ports besides 443 and 80
};

struct AiEndpoint {
  std::string host;
  std::string provider;  // anthropic | openai | bedrock
};

// AWS credentials km itself uses for Bedrock (its free CountTokens near a budget's ceiling);
// never given to a sandbox.
struct BedrockConfig {
  std::optional<std::string> credentials_file;  // an AWS shared credentials file
  std::optional<std::string> profile;           // its section; default "default"
};

struct AiConfig {
  std::vector<AiEndpoint> endpoints;  // metered besides the providers' own hosts
  std::optional<BedrockConfig> bedrock;
};

struct PricingConfig {
  std::optional<std::string> file;  // overrides the bundled pricing table
};

struct DiskConfig {
  std::optional<std::string> store;  // auto (default) | loop | none
  std::optional<std::string> size;   // size of a new store's image ("64Gi"); default: 1/10 of free space
};

struct LogsConfig {
  std::optional<std::string> max_file_size;  // per log file before it is rotated ("16Mi")
  std::optional<int64_t> max_files;          // files kept per log, the live one included
};

// How sandboxes' GitHub requests are authenticated (host side only; the sandbox never holds a
// token): a GitHub App (preferred: tokens minted per installation, scoped to the profile's
// repositories, an hour long) or a static token file.
struct GithubInstallation {
  std::string owner;  // user or organisation the App is installed on
  int64_t id = 0;     // the installation's id
};
struct GithubConfig {
  std::optional<std::string> api_url;           // default https://api.github.com
  std::optional<int64_t> app_id;
  std::optional<std::string> private_key_file;  // the App's PEM key (RS256)
  std::vector<GithubInstallation> installations;
  std::optional<std::string> token_file;        // a static token instead of an App
};

// A secret of the operator's given to every sandbox as a sentinel (the proxy puts the real
// value, read from `file`, in requests to `hosts` only).
struct OperatorSecret {
  std::string name;   // the environment variable inside sandboxes
  std::string file;   // holds the value (host side, under /root, /home or KM_HOME, mode 600)
  std::vector<std::string> hosts;
};

struct SopsConfig {
  std::vector<std::string> age_key_files;  // age identities that decrypt spec.secrets.sopsFile bundles
};

// OS images for local sandboxes' roots (km image; profiles' runtime.ami and runtime.image).
struct ImagesConfig {
  std::vector<std::pair<std::string, std::string>> ami;  // runtime.ami name → OCI reference (over km's defaults)
  std::optional<std::string> cert_dir;          // CA certificates (*.crt) trusted for registries
  std::optional<std::string> auth_file;         // registry credentials (containers-auth.json format)
  std::vector<std::string> insecure_registries; // host[:port] pulled without TLS verification
};

struct Config {
  std::optional<std::string> default_substrate;  // local (default) | docker | ec2 | ecs
  std::optional<std::vector<std::string>> profile_search_paths;
  std::optional<DnsConfig> dns;
  std::optional<TlsConfig> tls;
  std::optional<NetworkConfig> network;
  std::optional<ProxyConfig> proxy;
  std::optional<AiConfig> ai;
  std::optional<PricingConfig> pricing;
  std::optional<DiskConfig> disk;
  std::optional<LogsConfig> logs;
  std::optional<GithubConfig> github;
  std::vector<OperatorSecret> secrets;
  std::optional<SopsConfig> sops;
  std::optional<ImagesConfig> images;
};
inline constexpr const char* kDefaultGithubApiUrl = "https://api.github.com";

inline constexpr const char* kDefaultSubnetPool = "10.213.0.0/16";
inline constexpr const char* kDefaultLogFileSize = "16Mi";
inline constexpr int64_t kDefaultLogFiles = km::kDefaultLogFiles;
static_assert(km::kDefaultLogFileBytes == 16 << 20, "kDefaultLogFileSize must say the same");

struct LoadedConfig {
  std::string path;             // the file read ("" when none)
  bool from_file = false;
  Config config;                // as written (no defaults)
  doc::Diagnostics diagnostics;
  bool ok() const { return !diagnostics.hasErrors(); }
};

// Reads the operator config at `path`. A missing file is fine (empty config) unless
// `required` (the user named it with --config / KM_CONFIG): then NotFound. Problems inside
// the file are located diagnostics, not an error Result.
[[nodiscard]] Result<LoadedConfig> loadConfig(const std::string& path, bool required);

// Parses config text already in memory.
LoadedConfig parseConfig(std::string_view yaml, const std::string& source);

// The settings km will use: written values, else defaults (search paths ./profiles and
// ~/.km/profiles, subnet pool 10.213.0.0/16, DNS upstream from `resolv_conf`).
Config effective(const Config& c, const std::string& resolv_conf = "/etc/resolv.conf");

doc::Node toNode(const Config& c);
doc::Node jsonSchema();

// Nameservers listed in a resolv.conf text, as "ip:53" (IPv6 as "[ip]:53").
std::vector<std::string> nameserversFromResolvConf(std::string_view text);

}  // namespace km::config
