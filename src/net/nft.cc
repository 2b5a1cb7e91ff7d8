#include "net/nft.h"

#include <dlfcn.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <mutex>

#include "core/fs.h"
#include "core/sys.h"
#include "net/net.h"
#include "net/netlink_io.h"

namespace km::net {
namespace {

// The slice of libnftables' API km uses (nftables/libnftables.h, stable since 0.9).
struct NftApi {
  void* (*ctx_new)(uint32_t) = nullptr;
  void (*ctx_free)(void*) = nullptr;
  int (*run_cmd_from_buffer)(void*, const char*) = nullptr;
  int (*buffer_output)(void*) = nullptr;
  int (*buffer_error)(void*) = nullptr;
  const char* (*get_output_buffer)(void*) = nullptr;
  const char* (*get_error_buffer)(void*) = nullptr;
  std::string load_error;
};

const NftApi& api() {
  static NftApi a;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      a.load_error = std::string("cannot load libnftables (install the libnftables1 package): ") + ::dlerror();
      return;
    }
    auto sym = [&](const char* name) {
      void* p = ::dlsym(h, name);
      if (!p && a.load_error.empty()) a.load_error = std::string("libnftables lacks ") + name;
      return p;
    };
    a.ctx_new = reinterpret_cast<void* (*)(uint32_t)>(sym("nft_ctx_new"));
    a.ctx_free = reinterpret_cast<void (*)(void*)>(sym("nft_ctx_free"));
    a.run_cmd_from_buffer = reinterpret_cast<int (*)(void*, const char*)>(sym("nft_run_cmd_from_buffer"));
    a.buffer_output = reinterpret_cast<int (*)(void*)>(sym("nft_ctx_buffer_output"));
    a.buffer_error = reinterpret_cast<int (*)(void*)>(sym("nft_ctx_buffer_error"));
    a.get_output_buffer = reinterpret_cast<const char* (*)(void*)>(sym("nft_ctx_get_output_buffer"));
    a.get_error_buffer = reinterpret_cast<const char* (*)(void*)>(sym("nft_ctx_get_error_buffer"));
  });
  return a;
}

Result<std::string> runHere(const std::string& script) {
  const NftApi& a = api();
  if (!a.load_error.empty()) return unavailable(a.load_error);
  void* ctx = a.ctx_new(0);
  if (!ctx) return unavailable("nft_ctx_new failed");
  a.buffer_output(ctx);
  a.buffer_error(ctx);
  int rc = a.run_cmd_from_buffer(ctx, script.c_str());
  // Each get rewinds its buffer: read once.
  const char* out_text = a.get_output_buffer(ctx);
  const char* err_text = a.get_error_buffer(ctx);
  std::string out = out_text ? out_text : "";
  std::string err = err_text ? err_text : "";
  a.ctx_free(ctx);
  if (rc != 0) return unavailable("nftables refused the rules: " + (err.empty() ? "(no message)" : err));
  return out;
}

}  // namespace

// The host's connection-tracking table is shared by everything on the host: when it is full
// the kernel drops every new flow. So a sandbox's traffic to its own resolver and proxy (the
// host end of its veth) is not tracked at all — the input rules accept it by port — and the
// connections it makes through the host (forwarded, masqueraded) are capped per veth.
// Only the DNS and proxy ports of the veth's own host end are open to a sandbox (`fib daddr
// . iif type local`: the address is on the interface the packet came in by), never the same
// ports on the host's other addresses, which include every other sandbox's host end: a
// sandbox must not reach another's resolver or proxy (and so its policy). Only traffic to
// the host end itself is untracked: a sandbox's allowed traffic to the DNS or
// proxy ports elsewhere (network.allowCIDRs) is forwarded and masqueraded, which needs
// tracking. Every rule matches the sandboxes' veths by their interface group (kVethGroup),
// never by name: another interface whose name happens to start with "km" is left alone.
namespace {

// The chains and set of the host table, without the table around them.
std::string hostRulesBody() {
  const std::string sb = std::to_string(kVethGroup);
  const std::string dns = std::to_string(kDnsPort);
  const std::string tcp_ports =
      "{ " + dns + ", " + std::to_string(kProxyPort) + ", " + std::to_string(kTransparentProxyPort) + " }";
  return "  set fwd_conns {\n"
         "    type ifname\n"
         "    size 65535\n"
         "    flags dynamic\n"
         "  }\n"
         "  chain sandbox_notrack_in {\n"
         "    type filter hook prerouting priority raw; policy accept;\n"
         "    iifgroup " + sb + " fib daddr . iif type local udp dport " + dns + " notrack\n"
         "    iifgroup " + sb + " fib daddr . iif type local tcp dport " + tcp_ports + " notrack\n"
         "  }\n"
         "  chain sandbox_notrack_out {\n"
         "    type filter hook output priority raw; policy accept;\n"
         "    oifgroup " + sb + " udp sport " + dns + " notrack\n"
         "    oifgroup " + sb + " tcp sport " + tcp_ports + " notrack\n"
         "  }\n"
         "  chain input {\n"
         "    type filter hook input priority filter; policy accept;\n"
         "    iifgroup " + sb + " ct state established,related accept\n"
         "    iifgroup " + sb + " fib daddr . iif type local udp dport " + dns + " accept\n"
         "    iifgroup " + sb + " fib daddr . iif type local tcp dport " + tcp_ports + " accept\n"
         "    iifgroup " + sb + " counter drop\n"
         "  }\n"
         "  chain forward {\n"
         "    type filter hook forward priority filter; policy accept;\n"
         "    iifgroup " + sb + " oifgroup " + sb + " counter drop\n"
         "    iifgroup " + sb + " ct state new add @fwd_conns { iifname ct count over " +
         std::to_string(kForwardedConnectionsPerSandbox) + " } counter drop\n"
         "  }\n"
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    iifgroup " + sb + " oifgroup != " + sb + " masquerade\n"
         "  }\n";
}

// FNV-1a: the ruleset's fingerprint in the marker chain's name.
uint32_t fingerprint(std::string_view text) {
  uint32_t h = 2166136261u;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 16777619u;
  }
  return h;
}

}  // namespace

std::string hostRulesMark() {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", fingerprint(hostRulesBody()));
  return std::string("rules_") + hex;
}

std::string hostRuleset() {
  // An empty chain named after the rules' fingerprint marks the table as this ruleset.
  return "table inet km {\n" + hostRulesBody() + "  chain " + hostRulesMark() + " {\n  }\n}\n";
}



Status nftRun(const std::string& script, pid_t netns_of) {
  if (netns_of <= 0) {
    KM_TRY(runHere(script));
    return ok();
  }
  // libnftables makes its netlink socket with the context, inside the namespace.
  Result<std::string> r = std::string();
  KM_TRY(inNetnsOf(netns_of, [&] { r = runHere(script); }));
  if (!r) return std::move(r).error();
  return ok();
}

// The marker chain (hostRulesMark) says the table holds exactly this ruleset: any change of
// the rules changes its name, so a table of another km version is found and replaced.
Result<bool> hostRulesPresent() { return chainPresent("km", hostRulesMark()); }

namespace {

// One nfnetlink GET request (with these string attributes) for an `inet` object: much cheaper
// than listing through libnftables, which would first fetch the host's whole ruleset.
Result<bool> objectPresent(uint16_t msg, std::initializer_list<std::pair<uint16_t, std::string>> attrs,
                           const std::string& what) {
  auto nl = openNetlink(NETLINK_NETFILTER, "nftables");
  if (!nl) return std::move(nl).error();
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = putNfRequest(buf, (NFNL_SUBSYS_NFTABLES << 8) | msg, NLM_F_REQUEST | NLM_F_ACK, NFPROTO_INET, 0, 1);
  for (const auto& [type, value] : attrs) mnl_attr_put_strz(nlh, type, value.c_str());
  int err = mnlRequest(nl->get(), nlh, buf, sizeof buf);
  if (err == ENOENT) return false;
  if (err != 0) return sys::errnoError("nftables", "looking up " + what, err);
  return true;
}

}  // namespace

Result<bool> tablePresent(const std::string& name) {
  return objectPresent(NFT_MSG_GETTABLE, {{NFTA_TABLE_NAME, name}}, "table inet " + name);
}

Result<bool> chainPresent(const std::string& table, const std::string& chain) {
  return objectPresent(NFT_MSG_GETCHAIN, {{NFTA_CHAIN_TABLE, table}, {NFTA_CHAIN_NAME, chain}},
                       "chain inet " + table + " " + chain);
}

Status ensureHostRules() {
  auto present = hostRulesPresent();
  if (!present) return std::move(present).error();
  if (!*present) {
    // One transaction: the table (an older km's, with chains this one no longer has, or
    // none) goes and this ruleset takes its place; packets never see a half-made table, and
    // two creators racing end with one copy.
    KM_TRY(runHere("add table inet km\ndelete table inet km\n" + hostRuleset()));
  }
  auto fwd = fs::readFile("/proc/sys/net/ipv4/ip_forward");
  if (fwd && !fwd->empty() && (*fwd)[0] == '0') {
    KM_TRY(sys::writeFile("/proc/sys/net/ipv4/ip_forward", "1"));
  }
  return ok();
}

}  // namespace km::net
