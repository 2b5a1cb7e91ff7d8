#include "config/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doc/yaml_io.h"
#include "support/temp_dir.h"

namespace km::config {
namespace {

using Strings = std::vector<std::string>;

std::string dump(const doc::Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.all()) out += "\n  " + d.format();
  return out;
}

// Exactly one diagnostic: an error at `path`, `line`:`column`, whose message has `phrase`.
void expectOneError(const std::string& yaml, std::string_view path, uint32_t line, uint32_t column,
                    std::string_view phrase) {
  SCOPED_TRACE(yaml);
  LoadedConfig c = parseConfig(yaml, "config.yaml");
  ASSERT_EQ(c.diagnostics.all().size(), 1u) << dump(c.diagnostics);
  const doc::Diagnostic& d = c.diagnostics.all().front();
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.file, "config.yaml");
  EXPECT_EQ(d.path, path) << d.format();
  EXPECT_EQ(d.line, line) << d.format();
  EXPECT_EQ(d.column, column) << d.format();
  EXPECT_NE(d.message.find(phrase), std::string::npos) << "message lacks \"" << phrase << "\": " << d.format();
  EXPECT_FALSE(c.ok());
}

constexpr const char* kFull = R"(defaultSubstrate: docker
profileSearchPaths: [./profiles, ~/team/profiles]
dns:
  upstream: [192.0.2.53, "192.0.2.54:5353", "[2001:db8::53]:53", "2001:db8::54"]
tls:
  extraCAFile: /etc/km/corp-ca.pem
network:
  subnetPool: 10.50.0.0/16
  allowCIDRs: [10.1.0.0/16, fd00::/8]
proxy:
  connectPorts: [8443, 6443]
ai:
  endpoints:
    - {host: llm.internal, provider: openai}
    - {host: claude.proxy.corp, provider: anthropic}
    - {host: bedrock.corp, provider: bedrock}
pricing:
  file: /etc/km/pricing.yaml
)";

TEST(ConfigTest, EveryKeyParses) {
  LoadedConfig c = parseConfig(kFull, "config.yaml");
  ASSERT_TRUE(c.ok()) << dump(c.diagnostics);
  EXPECT_TRUE(c.diagnostics.all().empty()) << dump(c.diagnostics);
  EXPECT_EQ(c.path, "config.yaml");
  EXPECT_TRUE(c.from_file);
  const Config& k = c.config;
  EXPECT_EQ(k.default_substrate, "docker");
  EXPECT_EQ(k.profile_search_paths, (Strings{"./profiles", "~/team/profiles"}));
  ASSERT_TRUE(k.dns.has_value());
  EXPECT_EQ(k.dns->upstream, (Strings{"192.0.2.53", "192.0.2.54:5353", "[2001:db8::53]:53", "2001:db8::54"}));
  EXPECT_EQ(k.tls->extra_ca_file, "/etc/km/corp-ca.pem");
  EXPECT_EQ(k.network->subnet_pool, "10.50.0.0/16");
  EXPECT_EQ(k.network->allow_cidrs, (Strings{"10.1.0.0/16", "fd00::/8"}));
  ASSERT_EQ(k.ai->endpoints.size(), 3u);
  EXPECT_EQ(k.ai->endpoints[0].host, "llm.internal");
  EXPECT_EQ(k.ai->endpoints[0].provider, "openai");
  EXPECT_EQ(k.ai->endpoints[2].provider, "bedrock");
  EXPECT_EQ(k.pricing->file, "/etc/km/pricing.yaml");
  EXPECT_EQ(k.proxy->connect_ports, (std::vector<int64_t>{8443, 6443}));
}

TEST(ConfigTest, ProxyConnectPortsAreChecked) {
  expectOneError("proxy:\n  connectPorts: [0]\n", "proxy.connectPorts[0]", 2, 18, "");
  expectOneError("proxy:\n  connectPorts: [70000]\n", "proxy.connectPorts[0]", 2, 18, "");
}

TEST(ConfigTest, DiskAndLogSettingsParseAndAreChecked) {
  LoadedConfig c = parseConfig("disk: {store: loop, size: 64Gi}\nlogs: {maxFileSize: 1Mi, maxFiles: 3}\n", "config.yaml");
  ASSERT_TRUE(c.ok()) << dump(c.diagnostics);
  EXPECT_EQ(c.config.disk->store, "loop");
  EXPECT_EQ(c.config.disk->size, "64Gi");
  EXPECT_EQ(c.config.logs->max_file_size, "1Mi");
  EXPECT_EQ(c.config.logs->max_files, 3);
  expectOneError("disk:\n  store: btrfs\n", "disk.store", 2, 10, "auto, loop, none");
  expectOneError("disk:\n  size: lots\n", "disk.size", 2, 9, "a size like 64Gi");
  expectOneError("logs:\n  maxFiles: 0\n", "logs.maxFiles", 2, 13, "");
  Config e = effective(Config{}, "/nonexistent");
  EXPECT_EQ(e.disk->store, "auto");
  EXPECT_FALSE(e.disk->size.has_value());  // sized from the free space when the store is made
  EXPECT_EQ(e.logs->max_file_size, "16Mi");
  EXPECT_EQ(e.logs->max_files, 4);
}

TEST(ConfigTest, GithubAndSecretsParseAndAreChecked) {
  LoadedConfig c = parseConfig(R"(github:
  appId: 42
  privateKeyFile: /root/.km/app.pem
  installations:
    - {owner: my-org, id: 7}
secrets:
  - {name: ANTHROPIC_API_KEY, file: /root/.km/a.key, hosts: [api.anthropic.com]}
sops:
  ageKeyFiles: [/root/.config/sops/age/keys.txt]
)", "config.yaml");
  ASSERT_TRUE(c.ok()) << dump(c.diagnostics);
  EXPECT_EQ(c.config.github->app_id, 42);
  ASSERT_EQ(c.config.github->installations.size(), 1u);
  EXPECT_EQ(c.config.github->installations[0].owner, "my-org");
  EXPECT_EQ(c.config.github->installations[0].id, 7);
  ASSERT_EQ(c.config.secrets.size(), 1u);
  EXPECT_EQ(c.config.secrets[0].hosts, Strings{"api.anthropic.com"});
  EXPECT_EQ(c.config.sops->age_key_files, Strings{"/root/.config/sops/age/keys.txt"});
  EXPECT_EQ(effective(c.config, "/nonexistent").github->api_url, "https://api.github.com");

  expectOneError("github:\n  appId: 42\n  privateKeyFile: /k\n", "github.appId", 2, 10, "needs installations");
  expectOneError("github:\n  appId: 42\n  installations: [{owner: o, id: 1}]\n", "github.appId", 2, 10,
                 "needs privateKeyFile");
  expectOneError("github:\n  tokenFile: /t\n  privateKeyFile: /k\n", "github.privateKeyFile", 3, 19,
                 "set github.appId too");
  expectOneError("github:\n  appId: 4\n  privateKeyFile: /k\n  installations: [{owner: o, id: 1}]\n  tokenFile: /t\n",
                 "github.tokenFile", 5, 14, "not both");
  expectOneError("github:\n  appId: 4\n  privateKeyFile: /k\n  installations: [{owner: O, id: 1}, {owner: o, id: 2}]\n",
                 "github.installations[1].owner", 4, 46, "two installations");
  expectOneError("github:\n  apiUrl: http://api.github.com\n", "github.apiUrl", 2, 11, "an https URL");
  expectOneError("secrets:\n  - {name: 1X, file: /f, hosts: [a.b]}\n", "secrets[0].name", 2, 12, "environment variable");
  expectOneError("secrets:\n  - {name: X, file: /f, hosts: [A.b]}\n", "secrets[0].hosts[0]", 2, 33, "host name");
  expectOneError("secrets:\n  - {name: X, file: /f, hosts: []}\n", "secrets[0].hosts", 2, 32, "at least 1 item");
  expectOneError("secrets:\n  - {name: X, file: /f, hosts: [a.b]}\n  - {name: X, file: /g, hosts: [a.b]}\n",
                 "secrets[1].name", 3, 12, "defined twice");
}

TEST(ConfigTest, EmptyFilesAreAnEmptyConfig) {
  for (const char* text : {"", "\n", "# nothing configured yet\n", "---\n", "~\n"}) {
    LoadedConfig c = parseConfig(text, "config.yaml");
    EXPECT_TRUE(c.diagnostics.all().empty()) << "\"" << text << "\"" << dump(c.diagnostics);
    EXPECT_FALSE(c.config.default_substrate.has_value());
    EXPECT_FALSE(c.config.dns.has_value());
  }
}

TEST(ConfigTest, UnknownKeySuggestsTheClosestName) {
  expectOneError("defaultSubstrat: local\n", "defaultSubstrat", 1, 1,
                 "unknown field \"defaultSubstrat\"; did you mean \"defaultSubstrate\"?");
  expectOneError("dns:\n  upstreams: [192.0.2.1]\n", "dns.upstreams", 2, 3, "did you mean \"upstream\"?");
  expectOneError("network:\n  allowCIDR: [10.0.0.0/8]\n", "network.allowCIDR", 2, 3, "did you mean \"allowCIDRs\"?");
}

TEST(ConfigTest, UnknownKeyWithoutACloseMatchListsAllowedKeys) {
  expectOneError("cloud: aws\n", "cloud", 1, 1,
                 "fields allowed here: defaultSubstrate, profileSearchPaths, dns, tls, network, proxy, ai, pricing");
}

TEST(ConfigTest, DefaultSubstrateIsAKnownSubstrate) {
  expectOneError("defaultSubstrate: kvm\n", "defaultSubstrate", 1, 19,
                 "\"kvm\" is not allowed; use one of: local, docker, ec2, ecs");
}

TEST(ConfigTest, SearchPathsAreANonEmptyList) {
  expectOneError("profileSearchPaths: ./profiles\n", "profileSearchPaths", 1, 21, "write it as a list: [./profiles]");
  expectOneError("profileSearchPaths: [./a, \"\"]\n", "profileSearchPaths[1]", 1, 27, "must not be empty");
}

TEST(ConfigTest, BadSubnetPoolIsOneErrorSayingWhy) {
  expectOneError("network:\n  subnetPool: 10.213.0.0\n", "network.subnetPool", 2, 15,
                 "is not an IPv4 CIDR like 10.213.0.0/16");
  expectOneError("network:\n  subnetPool: 300.1.0.0/16\n", "network.subnetPool", 2, 15,
                 "\"300.1.0.0/16\" is not a valid IPv4 CIDR");
  expectOneError("network:\n  subnetPool: 10.0.0.0/33\n", "network.subnetPool", 2, 15, "not a valid IPv4 CIDR");
}

TEST(ConfigTest, SubnetPoolSmallerThanASlash24IsRefused) {
  expectOneError("network:\n  subnetPool: 10.213.0.0/25\n", "network.subnetPool", 2, 15,
                 "a /25 pool is too small; use /24 or larger");
  LoadedConfig ok = parseConfig("network:\n  subnetPool: 10.213.0.0/24\n", "c.yaml");
  EXPECT_TRUE(ok.diagnostics.all().empty()) << dump(ok.diagnostics);
}

TEST(ConfigTest, SubnetPoolWithHostBitsSuggestsTheNetworkAddress) {
  expectOneError("network:\n  subnetPool: 10.213.5.7/16\n", "network.subnetPool", 2, 15,
                 "has host bits set; did you mean 10.213.0.0/16?");
}

TEST(ConfigTest, BadAllowCidrIsOneErrorAtItsItem) {
  expectOneError("network:\n  allowCIDRs: [10.0.0.0/8, 10.1.0.0/99]\n", "network.allowCIDRs[1]", 2, 28,
                 "\"10.1.0.0/99\" is not a valid CIDR");
  expectOneError("network:\n  allowCIDRs: [corp-net]\n", "network.allowCIDRs[0]", 2, 16,
                 "is not a CIDR like 10.1.0.0/16 or fd00::/8");
  expectOneError("network:\n  allowCIDRs: [\"fd00::zz/8\"]\n", "network.allowCIDRs[0]", 2, 16, "not a");
}

TEST(ConfigTest, BadDnsUpstreamIsOneErrorAtItsItem) {
  expectOneError("dns:\n  upstream: [192.0.2.1, dns.example.com]\n", "dns.upstream[1]", 2, 25,
                 "is not an address like 192.0.2.53");
  expectOneError("dns:\n  upstream: [\"192.0.2.1:70000\"]\n", "dns.upstream[0]", 2, 14,
                 "\"192.0.2.1:70000\" is not an IP address with an optional port 1-65535");
  expectOneError("dns:\n  upstream: [\"192.0.2.1:0\"]\n", "dns.upstream[0]", 2, 14, "optional port 1-65535");
  expectOneError("dns:\n  upstream: [999.0.2.1]\n", "dns.upstream[0]", 2, 14, "is not an IP address");
  expectOneError("dns:\n  upstream: [\"[2001:db8::zz]:53\"]\n", "dns.upstream[0]", 2, 14, "not an");
}

TEST(ConfigTest, AiEndpointsNeedAHostAndAKnownProvider) {
  expectOneError("ai:\n  endpoints:\n    - {host: llm.internal, provider: gemini}\n", "ai.endpoints[0].provider", 3, 38,
                 "\"gemini\" is not allowed; use one of: anthropic, openai, bedrock");
  expectOneError("ai:\n  endpoints:\n    - {provider: openai}\n", "ai.endpoints[0].host", 3, 7,
                 "required field \"host\" is missing; add it, e.g. host: llm.internal");
  expectOneError("ai:\n  endpoints:\n    - {host: x}\n", "ai.endpoints[0].provider", 3, 7,
                 "required field \"provider\" is missing; add it, e.g. provider: anthropic");
}

TEST(ConfigTest, FileSettingsMustNotBeEmpty) {
  expectOneError("tls:\n  extraCAFile: \"\"\n", "tls.extraCAFile", 2, 16, "must not be empty");
  expectOneError("pricing:\n  file: \"\"\n", "pricing.file", 2, 9, "must not be empty");
}

TEST(ConfigTest, NonMappingRootIsATypeError) {
  expectOneError("- local\n", "", 1, 1, "expected a mapping, got a list");
}

TEST(ConfigTest, YamlErrorsAreReportedWithTheirPosition) {
  LoadedConfig c = parseConfig("dns:\n  upstream: [1.1.1.1\n", "config.yaml");
  ASSERT_EQ(c.diagnostics.errorCount(), 1u) << dump(c.diagnostics);
  EXPECT_GE(c.diagnostics.all()[0].line, 2u);
  EXPECT_NE(c.diagnostics.all()[0].message.find("invalid YAML"), std::string::npos);
}

TEST(ConfigTest, EffectiveFillsDefaults) {
  test::ScopedTempDir tmp;
  std::string resolv = tmp.write("resolv.conf", "nameserver 192.0.2.1\n");
  Config e = effective(Config{}, resolv);
  EXPECT_EQ(e.default_substrate, "local");
  EXPECT_EQ(e.profile_search_paths, (Strings{"./profiles", "~/.km/profiles"}));
  ASSERT_TRUE(e.dns.has_value());
  EXPECT_EQ(e.dns->upstream, (Strings{"192.0.2.1:53"}));
  ASSERT_TRUE(e.network.has_value());
  EXPECT_EQ(e.network->subnet_pool, kDefaultSubnetPool);
  EXPECT_EQ(*e.network->subnet_pool, "10.213.0.0/16");
  // Sections without defaults stay unset.
  EXPECT_FALSE(e.tls.has_value());
  EXPECT_FALSE(e.ai.has_value());
  EXPECT_FALSE(e.pricing.has_value());
}

TEST(ConfigTest, EffectiveKeepsWrittenValues) {
  test::ScopedTempDir tmp;
  std::string resolv = tmp.write("resolv.conf", "nameserver 192.0.2.1\n");
  LoadedConfig c = parseConfig(kFull, "config.yaml");
  ASSERT_TRUE(c.ok()) << dump(c.diagnostics);
  Config e = effective(c.config, resolv);
  EXPECT_EQ(e.default_substrate, "docker");
  EXPECT_EQ(e.profile_search_paths, (Strings{"./profiles", "~/team/profiles"}));
  EXPECT_EQ(e.dns->upstream.size(), 4u);  // resolv.conf not consulted
  EXPECT_EQ(e.network->subnet_pool, "10.50.0.0/16");
  EXPECT_EQ(e.network->allow_cidrs.size(), 2u);
  // An explicitly empty search path list is kept: the operator asked for none.
  Config none;
  none.profile_search_paths = Strings{};
  EXPECT_TRUE(effective(none, resolv).profile_search_paths->empty());
}

TEST(ConfigTest, EffectiveWithoutResolvConfHasNoUpstream) {
  test::ScopedTempDir tmp;
  Config e = effective(Config{}, tmp.path() + "/missing-resolv.conf");
  ASSERT_TRUE(e.dns.has_value());
  EXPECT_TRUE(e.dns->upstream.empty());
}

TEST(ConfigTest, ResolvConfGivesNameserversWithPort53) {
  EXPECT_EQ(nameserversFromResolvConf("# generated\n"
                                      "; old-style comment\n"
                                      "search corp.example\n"
                                      "nameserver 192.0.2.1\n"
                                      "  nameserver\t192.0.2.2   # office\n"
                                      "nameserver 2001:db8::1\n"
                                      "nameserver fe80::1%eth0\n"
                                      "#nameserver 192.0.2.9\n"
                                      "options edns0\n"
                                      "nameserver\n"
                                      "nameserver 192.0.2.3\r\n"),
            (Strings{"192.0.2.1:53", "192.0.2.2:53", "[2001:db8::1]:53", "[fe80::1%eth0]:53", "192.0.2.3:53"}));
  EXPECT_TRUE(nameserversFromResolvConf("").empty());
}

TEST(ConfigTest, ResolvConfKeywordMustBeAWholeWord) {
  EXPECT_TRUE(nameserversFromResolvConf("nameservers 192.0.2.1\nnameserver192.0.2.2\n").empty());
}

TEST(ConfigTest, MissingFileIsAnEmptyConfigUnlessRequired) {
  test::ScopedTempDir tmp;
  std::string path = tmp.path() + "/config.yaml";
  auto optional = loadConfig(path, /*required=*/false);
  ASSERT_TRUE(optional) << optional.error().message();
  EXPECT_EQ(optional->path, path);
  EXPECT_FALSE(optional->from_file);
  EXPECT_TRUE(optional->ok());
  EXPECT_FALSE(optional->config.dns.has_value());

  auto required = loadConfig(path, /*required=*/true);
  ASSERT_FALSE(required);
  EXPECT_EQ(required.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(required.error().message().find("reading operator config"), std::string::npos)
      << required.error().message();
}

TEST(ConfigTest, LoadsAFileAndLocatesItsErrors) {
  test::ScopedTempDir tmp;
  std::string path = tmp.write("config.yaml", "defaultSubstrate: ec2\nnetwork:\n  subnetPool: 10.0.0.0/28\n");
  auto c = loadConfig(path, true);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->from_file);
  EXPECT_EQ(c->config.default_substrate, "ec2");
  ASSERT_EQ(c->diagnostics.errorCount(), 1u) << dump(c->diagnostics);
  const doc::Diagnostic& d = c->diagnostics.all()[0];
  EXPECT_EQ(d.file, path);
  EXPECT_EQ(d.line, 3u);
  EXPECT_EQ(d.column, 15u);
  EXPECT_NE(d.message.find("too small"), std::string::npos);
}

TEST(ConfigTest, EncodesWhatWasWrittenInSchemaOrder) {
  LoadedConfig c = parseConfig("pricing: {file: /p.yaml}\ndefaultSubstrate: local\n", "c.yaml");
  ASSERT_TRUE(c.ok()) << dump(c.diagnostics);
  doc::Node n = toNode(c.config);
  ASSERT_EQ(n.entries().size(), 2u);
  EXPECT_EQ(n.entries()[0].key, "defaultSubstrate");
  EXPECT_EQ(n.entries()[1].key, "pricing");
  EXPECT_EQ(n.find("pricing")->find("file")->text(), "/p.yaml");
  // Every key survives encode → YAML → parse.
  LoadedConfig full = parseConfig(kFull, "c.yaml");
  std::string emitted = doc::emitYaml(toNode(full.config));
  LoadedConfig again = parseConfig(emitted, "c.yaml");
  EXPECT_TRUE(again.diagnostics.all().empty()) << emitted << dump(again.diagnostics);
  EXPECT_TRUE(toNode(full.config).sameValue(toNode(again.config))) << emitted;
}

TEST(ConfigTest, JsonSchemaDescribesEveryKey) {
  doc::Node s = jsonSchema();
  EXPECT_EQ(s.find("$schema")->text(), "https://json-schema.org/draft/2020-12/schema");
  EXPECT_FALSE(s.find("additionalProperties")->asBool());
  const doc::Node* props = s.find("properties");
  ASSERT_NE(props, nullptr);
  std::vector<std::string> keys;
  for (const auto& e : props->entries()) keys.push_back(e.key);
  EXPECT_EQ(keys, (Strings{"defaultSubstrate", "profileSearchPaths", "dns", "tls", "network", "proxy", "ai", "pricing",
                           "disk", "logs", "github", "secrets", "sops", "images"}));
  EXPECT_EQ(props->find("defaultSubstrate")->find("default")->text(), "local");
  EXPECT_EQ(doc::locate(*props, "network.properties.subnetPool.default")->text(), "10.213.0.0/16");
}

}  // namespace
}  // namespace km::config
