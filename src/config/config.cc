#include "config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "core/fs.h"
#include "core/strings.h"
#include "doc/describe.h"
#include "doc/yaml_io.h"

namespace km::doc {

using namespace km::config;  // NOLINT: the descriptions below name every config type

template <>
struct Describe<DnsConfig> {
  static constexpr std::string_view kDoc = "Upstream DNS for sandbox resolvers.";
  static void build(Fields<DnsConfig>& f) {
    f.add("upstream", &DnsConfig::upstream, "Servers as ip, ip:port or [ipv6]:port.")
        .pattern(R"(^([0-9.]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+$)",
                 "an address like 192.0.2.53, 192.0.2.53:53 or [2001:db8::53]:53");
  }
};

template <>
struct Describe<TlsConfig> {
  static constexpr std::string_view kDoc = "TLS trust for the proxy.";
  static void build(Fields<TlsConfig>& f) {
    f.add("extraCAFile", &TlsConfig::extra_ca_file, "PEM file of extra CAs for upstream servers.")
        .minLength(1);
  }
};

template <>
struct Describe<NetworkConfig> {
  static constexpr std::string_view kDoc = "Sandbox networking.";
  static void build(Fields<NetworkConfig>& f) {
    f.add("subnetPool", &NetworkConfig::subnet_pool, "IPv4 CIDR sandbox veth subnets come from.")
        .pattern(R"(^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$)", "an IPv4 CIDR like 10.213.0.0/16")
        .defaultValue(kDefaultSubnetPool);
    f.add("allowCIDRs", &NetworkConfig::allow_cidrs, "Private ranges every sandbox may reach.")
        .pattern(R"(^[0-9A-Fa-f:.]+/[0-9]{1,3}$)", "a CIDR like 10.1.0.0/16 or fd00::/8");
  }
};

template <>
struct Describe<ProxyConfig> {
  static constexpr std::string_view kDoc = "The sandboxes' HTTP proxy.";
  static void build(Fields<ProxyConfig>& f) {
    f.add("connectPorts", &ProxyConfig::connect_ports,
          "Ports a sandbox may CONNECT to through the proxy besides 443 and 80.")
        .min(1).max(65535);
  }
};

template <>
struct Describe<AiEndpoint> {
  static constexpr std::string_view kDoc = "An AI endpoint to meter.";
  static void build(Fields<AiEndpoint>& f) {
    f.add("host", &AiEndpoint::host, "Host name.").required().minLength(1).exampleValue("llm.internal");
    f.add("provider", &AiEndpoint::provider, "Wire format it speaks.")
        .required().oneOf({"anthropic", "openai", "bedrock"}).exampleValue("anthropic");
  }
};

template <>
struct Describe<BedrockConfig> {
  static constexpr std::string_view kDoc = "AWS credentials km signs Bedrock token counts with (host side only).";
  static void build(Fields<BedrockConfig>& f) {
    f.add("credentialsFile", &BedrockConfig::credentials_file,
          "AWS shared credentials file, under /root, /home or KM_HOME and readable by its owner only.")
        .minLength(1).exampleValue("/root/.aws/credentials");
    f.add("profile", &BedrockConfig::profile, "Section of the credentials file.")
        .minLength(1).defaultValue("default");
  }
};

template <>
struct Describe<AiConfig> {
  static constexpr std::string_view kDoc = "AI metering.";
  static void build(Fields<AiConfig>& f) {
    f.add("endpoints", &AiConfig::endpoints, "Endpoints metered besides the providers' own hosts.");
    f.add("bedrock", &AiConfig::bedrock, "Bedrock token counting near a budget's ceiling.");
  }
};

template <>
struct Describe<PricingConfig> {
  static constexpr std::string_view kDoc = "Token pricing.";
  static void build(Fields<PricingConfig>& f) {
    f.add("file", &PricingConfig::file, "Pricing table overriding the bundled one.").minLength(1);
  }
};

template <>
struct Describe<DiskConfig> {
  static constexpr std::string_view kDoc = "Where local sandboxes' disks live and how their size is enforced.";
  static void build(Fields<DiskConfig>& f) {
    f.add("store", &DiskConfig::store,
          "auto: a btrfs store per KM_HOME when the host allows, else unlimited plain directories; "
          "loop: the store or fail; none: plain directories (no disk limits).")
        .oneOf({"auto", "loop", "none"}).defaultValue("auto");
    f.add("size", &DiskConfig::size, "Size of the store's image when it is made, like 64Gi.")
        .pattern(kSizePattern, "a size like 64Gi or 500G");
  }
};

template <>
struct Describe<LogsConfig> {
  static constexpr std::string_view kDoc = "Bounds of the logs a sandbox makes grow on the host.";
  static void build(Fields<LogsConfig>& f) {
    f.add("maxFileSize", &LogsConfig::max_file_size, "A log file is rotated when it would grow past this.")
        .pattern(kSizePattern, "a size like 16Mi").defaultValue(kDefaultLogFileSize);
    f.add("maxFiles", &LogsConfig::max_files, "Files kept per log, the live one included.")
        .min(1).max(100).defaultValue("4");
  }
};

template <>
struct Describe<GithubInstallation> {
  static constexpr std::string_view kDoc = "Where the GitHub App is installed.";
  static void build(Fields<GithubInstallation>& f) {
    f.add("owner", &GithubInstallation::owner, "User or organisation.").required()
        .pattern(R"(^[A-Za-z0-9][A-Za-z0-9-]{0,38}$)", "a GitHub user or organisation name").exampleValue("my-org");
    f.add("id", &GithubInstallation::id, "The installation id.").required().min(1).exampleValue("12345678");
  }
};

template <>
struct Describe<GithubConfig> {
  static constexpr std::string_view kDoc =
      "How sandboxes' GitHub requests are authenticated (host side; sandboxes never hold a token).";
  static void build(Fields<GithubConfig>& f) {
    f.add("apiUrl", &GithubConfig::api_url, "GitHub's REST API base URL.")
        .pattern(R"(^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$)", "an https URL like https://api.github.com")
        .defaultValue(kDefaultGithubApiUrl);
    f.add("appId", &GithubConfig::app_id, "The GitHub App's id.").min(1);
    f.add("privateKeyFile", &GithubConfig::private_key_file,
          "The App's private key (PEM), under /root, /home or KM_HOME, mode 600.").minLength(1);
    f.add("installations", &GithubConfig::installations, "The App's installations, one per owner.");
    f.add("tokenFile", &GithubConfig::token_file,
          "A static token instead of an App (under /root, /home or KM_HOME, mode 600).").minLength(1);
  }
};

template <>
struct Describe<OperatorSecret> {
  static constexpr std::string_view kDoc = "A secret every sandbox gets as a sentinel.";
  static void build(Fields<OperatorSecret>& f) {
    f.add("name", &OperatorSecret::name, "Environment variable inside sandboxes.").required()
        .pattern(R"(^[A-Za-z_][A-Za-z0-9_]*$)", "an environment variable name like ANTHROPIC_API_KEY")
        .exampleValue("ANTHROPIC_API_KEY");
    f.add("file", &OperatorSecret::file, "File holding the value, under /root, /home or KM_HOME, mode 600.")
        .required().minLength(1).exampleValue("/root/.km/anthropic.key");
    f.add("hosts", &OperatorSecret::hosts, "Hosts the value may go to (exact names).").required()
        .pattern(R"(^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$)", "a host name like api.anthropic.com")
        .minItems(1).exampleValue("[api.anthropic.com]");
  }
};

template <>
struct Describe<SopsConfig> {
  static constexpr std::string_view kDoc = "Decrypting profiles' SOPS bundles (spec.secrets.sopsFile).";
  static void build(Fields<SopsConfig>& f) {
    f.add("ageKeyFiles", &SopsConfig::age_key_files, "age identity files (AGE-SECRET-KEY-1…).").minLength(1);
  }
};

template <>
struct Describe<ImagesConfig> {
  static constexpr std::string_view kDoc = "OS images for local sandboxes' roots.";
  static void build(Fields<ImagesConfig>& f) {
    f.add("ami", &ImagesConfig::ami,
          "runtime.ami name → OCI image reference, over km's defaults (amazon-linux-2023 → "
          "docker.io/library/amazonlinux:2023, ubuntu-24.04 → docker.io/library/ubuntu:24.04, "
          "ubuntu-22.04 → docker.io/library/ubuntu:22.04).")
        .exampleValue("{amazon-linux-2023: registry.example:5000/mirror/amazonlinux:2023}");
    f.add("certDir", &ImagesConfig::cert_dir, "Directory of CA certificates (*.crt) trusted for registries.")
        .minLength(1);
    f.add("authFile", &ImagesConfig::auth_file, "Registry credentials (the auth.json format of skopeo and podman).")
        .minLength(1);
    f.add("insecureRegistries", &ImagesConfig::insecure_registries,
          "Registries (host[:port]) pulled from without TLS verification.")
        .pattern(R"(^[A-Za-z0-9.-]+(:[0-9]{1,5})?$)", "a registry like registry.example:5000");
  }
};

template <>
struct Describe<Config> {
  static constexpr std::string_view kDoc = "km operator configuration.";
  static void build(Fields<Config>& f) {
    f.add("defaultSubstrate", &Config::default_substrate,
          "Where km create runs when no --substrate is given and the profile's cloud is not configured.")
        .oneOf({"local", "docker", "ec2", "ecs"}).defaultValue("local");
    f.add("profileSearchPaths", &Config::profile_search_paths,
          "Directories searched for profile names and extends parents.")
        .minLength(1);
    f.add("dns", &Config::dns, "DNS.");
    f.add("tls", &Config::tls, "TLS.");
    f.add("network", &Config::network, "Networking.");
    f.add("proxy", &Config::proxy, "HTTP proxy.");
    f.add("ai", &Config::ai, "AI endpoints.");
    f.add("pricing", &Config::pricing, "Pricing.");
    f.add("disk", &Config::disk, "Sandbox disks.");
    f.add("logs", &Config::logs, "Log bounds.");
    f.add("github", &Config::github, "GitHub credentials for sandboxes' allowed repositories.");
    f.add("secrets", &Config::secrets, "Secrets every sandbox gets as sentinels (e.g. the AI providers' keys).");
    f.add("sops", &Config::sops, "SOPS bundles.");
    f.add("images", &Config::images, "OS images for local sandboxes.");
  }
};

}  // namespace km::doc

namespace km::config {
namespace {

// Whole-string decimal number, or -1 (no exceptions, unlike std::stoi).
int parseSmallInt(std::string_view s) {
  int v = -1;
  if (s.empty() || s.size() > 5) return -1;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return -1;
  return v;
}

// The network address of a valid IPv4 CIDR ("10.213.5.7/16" → "10.213.0.0").
std::string ipv4NetworkOf(const std::string& cidr) {
  size_t slash = cidr.find('/');
  int prefix = parseSmallInt(cidr.substr(slash + 1));
  in_addr addr{};
  if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &addr) != 1 || prefix < 0) return "";
  uint32_t host = ntohl(addr.s_addr);
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  addr.s_addr = htonl(host & mask);
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &addr, buf, sizeof buf) ? buf : "";
}

bool validCidr(const std::string& cidr, bool v4_only) {
  size_t slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  std::string addr = cidr.substr(0, slash);
  std::string bits = cidr.substr(slash + 1);
  int prefix = parseSmallInt(bits);
  if (prefix < 0) return false;
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return prefix <= 32;
  if (v4_only) return false;
  return inet_pton(AF_INET6, addr.c_str(), buf) == 1 && prefix <= 128;
}

// Whether the schema already reported `path` (its pattern failed), so a value that does not
// even look right is not reported a second time here.
bool reported(const doc::Diagnostics& d, const std::string& path) {
  for (const auto& e : d.all())
    if (e.isError() && e.path == path) return true;
  return false;
}

// A file of only blank and comment lines holds no YAML document at all.
bool blankOrComments(std::string_view text) {
  for (const auto& line : split(text, '\n')) {
    std::string_view t = trim(line);
    if (!t.empty() && t.front() != '#') return false;
  }
  return true;
}

// An App needs its key and at least one installation; a token file is the alternative.
void checkGithub(const GithubConfig& g, const doc::Node& root, doc::Diagnostics& d) {
  auto at = [&](const std::string& path) { return doc::locate(root, path)->mark(); };
  if (g.app_id && g.token_file) {
    d.error(at("github.tokenFile"), "github.tokenFile",
            "set either a GitHub App (appId, privateKeyFile, installations) or tokenFile, not both");
  }
  if (g.app_id && !g.private_key_file) {
    d.error(at("github.appId"), "github.appId", "a GitHub App needs privateKeyFile: the PEM key GitHub gave for it");
  }
  if (g.app_id && g.installations.empty()) {
    d.error(at("github.appId"), "github.appId",
            "a GitHub App needs installations: [{owner: OWNER, id: ID}] (the id is in the URL of the App's "
            "installation settings page)");
  }
  if (!g.app_id && (g.private_key_file || !g.installations.empty())) {
    std::string path = g.private_key_file ? "github.privateKeyFile" : "github.installations";
    d.error(at(path), path, "privateKeyFile and installations belong to a GitHub App: set github.appId too");
  }
  for (size_t i = 0; i < g.installations.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (toLower(g.installations[j].owner) == toLower(g.installations[i].owner)) {
        std::string path = doc::indexPath("github.installations", i) + ".owner";
        d.error(at(path), path, g.installations[i].owner + " has two installations; keep one");
      }
    }
  }
}

void checkSemantics(const Config& c, const doc::Node& root, doc::Diagnostics& d) {
  auto at = [&](const std::string& path) { return doc::locate(root, path)->mark(); };
  if (c.network) {
    if (c.network->subnet_pool && !reported(d, "network.subnetPool")) {
      const std::string& pool = *c.network->subnet_pool;
      if (!validCidr(pool, true)) {
        d.error(at("network.subnetPool"), "network.subnetPool",
                "\"" + pool + "\" is not a valid IPv4 CIDR");
      } else if (parseSmallInt(pool.substr(pool.find('/') + 1)) > 24) {
        d.error(at("network.subnetPool"), "network.subnetPool",
                "a /" + pool.substr(pool.find('/') + 1) +
                    " pool is too small; use /24 or larger (each sandbox takes a /30)");
      } else if (std::string base = ipv4NetworkOf(pool); base != pool.substr(0, pool.find('/'))) {
        // 10.213.5.7/16 almost always means 10.213.0.0/16; say so rather than guess.
        d.error(at("network.subnetPool"), "network.subnetPool",
                "\"" + pool + "\" has host bits set; did you mean " + base +
                    pool.substr(pool.find('/')) + "?");
      }
    }
    for (size_t i = 0; i < c.network->allow_cidrs.size(); ++i) {
      std::string path = doc::indexPath("network.allowCIDRs", i);
      if (reported(d, path)) continue;
      if (!validCidr(c.network->allow_cidrs[i], false)) {
        d.error(at(path), path, "\"" + c.network->allow_cidrs[i] + "\" is not a valid CIDR");
      }
    }
  }
  if (c.dns) {
    for (size_t i = 0; i < c.dns->upstream.size(); ++i) {
      std::string path = doc::indexPath("dns.upstream", i);
      if (reported(d, path)) continue;
      std::string s = c.dns->upstream[i];
      std::string host = s, port;
      if (startsWith(s, "[")) {
        size_t close = s.find(']');
        host = close == std::string::npos ? s : s.substr(1, close - 1);
        if (close != std::string::npos && close + 1 < s.size()) port = s.substr(close + 2);
      } else if (std::count(s.begin(), s.end(), ':') == 1) {
        host = s.substr(0, s.find(':'));
        port = s.substr(s.find(':') + 1);
      }
      unsigned char buf[16];
      bool ok = inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
      if (ok && !port.empty()) ok = parseSmallInt(port) > 0 && parseSmallInt(port) < 65536;
      if (!ok) d.error(at(path), path, "\"" + s + "\" is not an IP address with an optional port 1-65535");
    }
  }
  if (c.github) checkGithub(*c.github, root, d);
  for (size_t i = 0; i < c.secrets.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (c.secrets[j].name == c.secrets[i].name) {
        std::string path = doc::indexPath("secrets", i) + ".name";
        d.error(at(path), path, c.secrets[i].name + " is defined twice (also secrets[" + std::to_string(j) + "]); keep one");
      }
    }
  }
}

}  // namespace

LoadedConfig parseConfig(std::string_view yaml, const std::string& source) {
  LoadedConfig out;
  out.path = source;
  out.from_file = true;
  if (blankOrComments(yaml)) return out;  // an empty file is an empty config
  doc::Node root;
  if (!doc::parseYaml(yaml, source, root, out.diagnostics)) return out;
  if (root.isNull()) return out;  // an empty file is an empty config
  out.config = doc::decode<Config>(root, out.diagnostics);
  checkSemantics(out.config, root, out.diagnostics);
  return out;
}

Result<LoadedConfig> loadConfig(const std::string& path, bool required) {
  auto text = fs::readFile(path, 1 << 20);
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound && !required) {
      LoadedConfig none;
      none.path = path;
      return none;
    }
    return std::move(text).error().context("reading operator config");
  }
  return parseConfig(*text, path);
}

std::vector<std::string> nameserversFromResolvConf(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& raw : split(text, '\n')) {
    std::string_view line = trim(raw);
    // The keyword, then blanks: "nameservers x" and "nameserverx" are not nameserver lines.
    if (!startsWith(line, "nameserver") || line.size() <= 10 || (line[10] != ' ' && line[10] != '\t'))
      continue;
    std::string_view addr = trim(line.substr(10));
    size_t end = addr.find_first_of(" \t#");
    if (end != std::string_view::npos) addr = addr.substr(0, end);
    if (addr.empty()) continue;
    std::string a(addr);
    out.push_back(a.find(':') != std::string::npos ? "[" + a + "]:53" : a + ":53");
  }
  return out;
}

Config effective(const Config& c, const std::string& resolv_conf) {
  Config e = c;
  if (!e.default_substrate) e.default_substrate = "local";
  if (!e.profile_search_paths) e.profile_search_paths = std::vector<std::string>{"./profiles", "~/.km/profiles"};
  if (!e.dns) e.dns.emplace();
  if (e.dns->upstream.empty()) {
    auto text = fs::readFile(resolv_conf, 1 << 20);
    if (text) e.dns->upstream = nameserversFromResolvConf(*text);
  }
  if (!e.network) e.network.emplace();
  if (!e.network->subnet_pool) e.network->subnet_pool = kDefaultSubnetPool;
  if (!e.disk) e.disk.emplace();
  if (!e.disk->store) e.disk->store = "auto";
  if (!e.logs) e.logs.emplace();
  if (!e.logs->max_file_size) e.logs->max_file_size = kDefaultLogFileSize;
  if (!e.logs->max_files) e.logs->max_files = kDefaultLogFiles;
  if (e.github && !e.github->api_url) e.github->api_url = kDefaultGithubApiUrl;
  return e;
}

doc::Node toNode(const Config& c) { return doc::encode(c); }

doc::Node jsonSchema() {
  doc::Node s = doc::schemaOf<Config>();
  doc::Node out = doc::Node::map();
  out.set("$schema", doc::Node::string("https://json-schema.org/draft/2020-12/schema"));
  out.set("title", doc::Node::string("km operator config"));
  for (auto& e : s.entries()) out.set(e.key, e.value);
  return out;
}

}  // namespace km::config
