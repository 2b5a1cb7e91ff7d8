// The `proxy` enforcement rules of one sandbox, written straight as one nfnetlink batch.
// libnftables would parse a script, fetch a cache and cost ~8 ms per sandbox (dlopen,
// context, parser); the kernel itself needs well under one. The rules are fixed in shape, so
// the expressions are spelled out here as the kernel takes them (see `nft --debug=netlink`
// for the same rules written by nft).
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/sys.h"
#include "net/net.h"
#include "net/netlink_io.h"
#include "net/nft.h"

namespace km::net {
namespace {

constexpr const char* kTable = "km_sandbox";

// One batch of nftables messages in a buffer; each message asks for an ACK.
class Batch {
 public:
  // The rules below take about 4 KiB; the size is fixed so pointers into it stay valid.
  Batch() : buf_(64 * 1024) { begin(NFNL_MSG_BATCH_BEGIN); }

  nlmsghdr* message(uint16_t type, uint16_t flags) {
    nlmsghdr* nlh = header(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type),
                           static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags), NFPROTO_INET, 0);
    ++acks_;
    return nlh;
  }
  void end() { begin(NFNL_MSG_BATCH_END); }
  const char* data() const { return buf_.data(); }
  size_t size() const { return used_; }
  int acks() const { return acks_; }
  void close(nlmsghdr* nlh) { used_ += nlh->nlmsg_len; }

 private:
  nlmsghdr* header(uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id) {
    return putNfRequest(buf_.data() + used_, type, flags, family, res_id, ++seq_);
  }
  void begin(uint16_t type) {
    nlmsghdr* nlh = header(type, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    close(nlh);
  }

  std::vector<char> buf_;
  size_t used_ = 0;
  uint32_t seq_ = 0;
  int acks_ = 0;
};

// The expressions of one rule.
class Rule {
 public:
  Rule(Batch& b, const char* chain) : b_(b) {
    nlh_ = b.message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
    mnl_attr_put_strz(nlh_, NFTA_RULE_TABLE, kTable);
    mnl_attr_put_strz(nlh_, NFTA_RULE_CHAIN, chain);
    list_ = mnl_attr_nest_start(nlh_, NFTA_RULE_EXPRESSIONS);
  }
  ~Rule() {
    mnl_attr_nest_end(nlh_, list_);
    b_.close(nlh_);
  }
  Rule(const Rule&) = delete;
  Rule& operator=(const Rule&) = delete;

  Rule& meta(uint32_t key) {
    return expr("meta", [&] {
      u32(NFTA_META_KEY, key);
      u32(NFTA_META_DREG, NFT_REG_1);
    });
  }
  Rule& payload(uint32_t base, uint32_t offset, uint32_t len) {
    return expr("payload", [&] {
      u32(NFTA_PAYLOAD_DREG, NFT_REG_1);
      u32(NFTA_PAYLOAD_BASE, base);
      u32(NFTA_PAYLOAD_OFFSET, offset);
      u32(NFTA_PAYLOAD_LEN, len);
    });
  }
  Rule& cmp(uint32_t op, const void* value, size_t len) {
    return expr("cmp", [&] {
      u32(NFTA_CMP_SREG, NFT_REG_1);
      u32(NFTA_CMP_OP, op);
      nlattr* d = mnl_attr_nest_start(nlh_, NFTA_CMP_DATA);
      mnl_attr_put(nlh_, NFTA_DATA_VALUE, len, value);
      mnl_attr_nest_end(nlh_, d);
    });
  }
  Rule& log(uint16_t group, const char* prefix) {
    return expr("log", [&] {
      mnl_attr_put_u16(nlh_, NFTA_LOG_GROUP, htons(group));
      mnl_attr_put_strz(nlh_, NFTA_LOG_PREFIX, prefix);
    });
  }
  // dnat to addr:port (IPv4, both in network order).
  Rule& dnat(uint32_t addr, uint16_t port) {
    load(NFT_REG_1, &addr, sizeof addr);
    load(NFT_REG_2, &port, sizeof port);
    return expr("nat", [&] {
      u32(NFTA_NAT_TYPE, NFT_NAT_DNAT);
      u32(NFTA_NAT_FAMILY, NFPROTO_IPV4);
      u32(NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
      u32(NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
    });
  }
  Rule& reject(uint32_t type, uint8_t code) {
    return expr("reject", [&] {
      u32(NFTA_REJECT_TYPE, type);
      mnl_attr_put_u8(nlh_, NFTA_REJECT_ICMP_CODE, code);
    });
  }
  Rule& accept() {
    return expr("immediate", [&] {
      u32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
      nlattr* d = mnl_attr_nest_start(nlh_, NFTA_IMMEDIATE_DATA);
      nlattr* v = mnl_attr_nest_start(nlh_, NFTA_DATA_VERDICT);
      u32(NFTA_VERDICT_CODE, static_cast<uint32_t>(NF_ACCEPT));
      mnl_attr_nest_end(nlh_, v);
      mnl_attr_nest_end(nlh_, d);
    });
  }

  // Shorthands for the matches the rules use.
  Rule& ipv4() {
    uint8_t p = NFPROTO_IPV4;
    return meta(NFT_META_NFPROTO).cmp(NFT_CMP_EQ, &p, 1);
  }
  Rule& loopbackOut() {
    uint32_t lo = 1;  // the loopback device is ifindex 1 in every network namespace
    return meta(NFT_META_OIF).cmp(NFT_CMP_EQ, &lo, sizeof lo);
  }
  Rule& daddr(uint32_t op, uint32_t addr) {
    return payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4).cmp(op, &addr, sizeof addr);
  }
  Rule& l4(uint8_t proto) { return meta(NFT_META_L4PROTO).cmp(NFT_CMP_EQ, &proto, 1); }
  Rule& dport(uint16_t port) {
    uint16_t p = htons(port);
    return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2).cmp(NFT_CMP_EQ, &p, sizeof p);
  }

 private:
  template <typename F>
  Rule& expr(const char* name, F&& body) {
    nlattr* elem = mnl_attr_nest_start(nlh_, NFTA_LIST_ELEM);
    mnl_attr_put_strz(nlh_, NFTA_EXPR_NAME, name);
    nlattr* data = mnl_attr_nest_start(nlh_, NFTA_EXPR_DATA);
    body();
    mnl_attr_nest_end(nlh_, data);
    mnl_attr_nest_end(nlh_, elem);
    return *this;
  }
  void load(uint32_t reg, const void* value, size_t len) {
    expr("immediate", [&] {
      u32(NFTA_IMMEDIATE_DREG, reg);
      nlattr* d = mnl_attr_nest_start(nlh_, NFTA_IMMEDIATE_DATA);
      mnl_attr_put(nlh_, NFTA_DATA_VALUE, len, value);
      mnl_attr_nest_end(nlh_, d);
    });
  }
  void u32(uint16_t type, uint32_t value) { mnl_attr_put_u32(nlh_, type, htonl(value)); }

  Batch& b_;
  nlmsghdr* nlh_;
  nlattr* list_;
};

void chain(Batch& b, const char* name, const char* type, uint32_t hook, int32_t priority, uint32_t policy) {
  nlmsghdr* nlh = b.message(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, kTable);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
  nlattr* h = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
  mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(hook));
  mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(static_cast<uint32_t>(priority)));
  mnl_attr_nest_end(nlh, h);
  mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(policy));
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, type);
  b.close(nlh);
}

// Sends the batch and waits for every ACK; the first error the kernel reports wins.
Status send(const Batch& b) {
  auto opened = openNetlink(NETLINK_NETFILTER, "nftables");
  if (!opened) return std::move(opened).error();
  mnl_socket* nl = opened->get();
  timeval tv{2, 0};  // the kernel answers at once; never hang a create on it
  ::setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (mnl_socket_sendto(nl, b.data(), b.size()) < 0) return sys::errnoError("netlink send", "nftables rules", errno);
  int acked = 0;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  while (acked < b.acks()) {
    ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
    if (n < 0) return sys::errnoError("netlink receive", "nftables rules", errno);
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (e->error != 0) {
        return sys::errnoError("nftables", "the sandbox's rules (message " + std::to_string(nlh->nlmsg_seq) + ")", -e->error);
      }
      ++acked;
    }
  }
  return ok();
}

}  // namespace

Status installSandboxRules(const IpAddress& host, uint16_t log_group) {
  if (host.v6) return invalidArgument("the sandbox rules take the host end's IPv4 address, not " + host.toString());
  uint32_t h;
  std::memcpy(&h, host.bytes.data(), 4);  // network order, as in the packet
  const uint8_t tcp = IPPROTO_TCP, udp = IPPROTO_UDP;

  Batch b;
  nlmsghdr* t = b.message(NFT_MSG_NEWTABLE, NLM_F_CREATE);
  mnl_attr_put_strz(t, NFTA_TABLE_NAME, kTable);
  b.close(t);

  // Before routing's second look: DNS to anyone else goes to our resolver, web to the proxy.
  chain(b, "nat_out", "nat", NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST, NF_ACCEPT);
  Rule(b, "nat_out").loopbackOut().accept();
  for (uint8_t p : {udp, tcp}) {
    Rule(b, "nat_out").ipv4().daddr(NFT_CMP_NEQ, h).l4(p).dport(kDnsPort).log(log_group, "km-dns").dnat(h, htons(kDnsPort));
  }
  for (uint16_t port : {80, 443}) {
    Rule(b, "nat_out").ipv4().l4(tcp).dport(port).log(log_group, "km-proxy").dnat(h, htons(kTransparentProxyPort));
  }

  // What leaves after that: only DNS and the proxy ports on the host end; the rest is
  // refused at once (a reset, or "administratively prohibited") and logged.
  chain(b, "out", "filter", NF_INET_LOCAL_OUT, NF_IP_PRI_FILTER, NF_DROP);
  Rule(b, "out").loopbackOut().accept();
  for (uint8_t p : {udp, tcp}) Rule(b, "out").ipv4().daddr(NFT_CMP_EQ, h).l4(p).dport(kDnsPort).accept();
  for (uint16_t port : {kProxyPort, kTransparentProxyPort}) Rule(b, "out").ipv4().daddr(NFT_CMP_EQ, h).l4(tcp).dport(port).accept();
  Rule(b, "out").l4(tcp).log(log_group, "km-deny").reject(NFT_REJECT_TCP_RST, 0);
  Rule(b, "out").log(log_group, "km-deny").reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
  b.end();
  return send(b);
}

}  // namespace km::net
