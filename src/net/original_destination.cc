// Original destinations of redirected connections: ctnetlink (proxy) and sock_diag (both),
// each asked inside the sandbox's network namespace through a socket opened there.
#include "net/original_destination.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>

#include "net/bpf/gate.h"
#include "net/netlink_io.h"

namespace km::net {
namespace {

// The original tuple's destination, from a conntrack message.
struct CtWalk {
  bool have_addr = false, have_port = false;
  uint32_t addr = 0;
  uint16_t port = 0;
};

int ctProto(const nlattr* a, void* data) {
  auto* w = static_cast<CtWalk*>(data);
  if (mnl_attr_get_type(a) == CTA_PROTO_DST_PORT && mnl_attr_validate(a, MNL_TYPE_U16) >= 0) {
    w->port = ntohs(mnl_attr_get_u16(a));
    w->have_port = true;
  }
  return MNL_CB_OK;
}

int ctIp(const nlattr* a, void* data) {
  auto* w = static_cast<CtWalk*>(data);
  if (mnl_attr_get_type(a) == CTA_IP_V4_DST && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
    w->addr = mnl_attr_get_u32(a);
    w->have_addr = true;
  }
  return MNL_CB_OK;
}

int ctTuple(const nlattr* a, void* data) {
  if (mnl_attr_get_type(a) == CTA_TUPLE_IP) mnl_attr_parse_nested(a, ctIp, data);
  if (mnl_attr_get_type(a) == CTA_TUPLE_PROTO) mnl_attr_parse_nested(a, ctProto, data);
  return MNL_CB_OK;
}

int ctTop(const nlattr* a, void* data) {
  if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG) mnl_attr_parse_nested(a, ctTuple, data);
  return MNL_CB_OK;
}

int ctMessage(const nlmsghdr* nlh, void* data) {
  mnl_attr_parse(nlh, sizeof(nfgenmsg), ctTop, data);
  return MNL_CB_OK;
}

struct DiagWalk {
  bool found = false;
  uint64_t cookie = 0;
};

int diagMessage(const nlmsghdr* nlh, void* data) {
  auto* w = static_cast<DiagWalk*>(data);
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return MNL_CB_OK;
  const auto* m = static_cast<const inet_diag_msg*>(mnl_nlmsg_get_payload(nlh));
  w->cookie = uint64_t{m->id.idiag_cookie[0]} | uint64_t{m->id.idiag_cookie[1]} << 32;
  w->found = true;
  return MNL_CB_OK;
}

Result<mnl_socket*> openIn(pid_t netns_of, int bus, const std::string& what) {
  Result<MnlSocket> sock = internalError("not opened");
  KM_TRY(inNetnsOf(netns_of, [&] { sock = openNetlink(bus, what); }));
  if (!sock) return std::move(sock).error();
  // The kernel answers at once; a bound keeps a lookup from ever hanging a proxy thread.
  timeval tv{1, 0};
  (void)::setsockopt(mnl_socket_get_fd(sock->get()), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return sock->release();
}

}  // namespace

OriginalDestinations::OriginalDestinations(mnl_socket* nl, Endpoint proxy, const EgressGate* gate)
    : nl_(nl), proxy_(proxy), gate_(gate) {}

OriginalDestinations::~OriginalDestinations() {
  if (nl_) mnl_socket_close(nl_);
}

Result<std::unique_ptr<OriginalDestinations>> OriginalDestinations::conntrack(pid_t netns_of, Endpoint proxy) {
  auto nl = openIn(netns_of, NETLINK_NETFILTER, "conntrack");
  if (!nl) return std::move(nl).error();
  return std::unique_ptr<OriginalDestinations>(new OriginalDestinations(*nl, proxy, nullptr));
}

Result<std::unique_ptr<OriginalDestinations>> OriginalDestinations::sockDiag(pid_t netns_of, Endpoint proxy,
                                                                              const EgressGate& gate) {
  auto nl = openIn(netns_of, NETLINK_SOCK_DIAG, "sock_diag");
  if (!nl) return std::move(nl).error();
  return std::unique_ptr<OriginalDestinations>(new OriginalDestinations(*nl, proxy, &gate));
}

std::optional<Endpoint> OriginalDestinations::lookup(const Endpoint& client) {
  if (client.ip.v6 || proxy_.ip.v6) return std::nullopt;  // the veth is IPv4 only
  std::lock_guard lock(mu_);
  return gate_ ? fromSockDiag(client) : fromConntrack(client);
}

std::optional<Endpoint> OriginalDestinations::fromConntrack(const Endpoint& client) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = putNfRequest(buf, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_ACK,
                               AF_INET, 0, ++seq_);
  // The reply tuple: from the proxy's address and port to the client's.
  nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_REPLY);
  nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
  uint32_t src = 0, dst = 0;
  std::memcpy(&src, proxy_.ip.bytes.data(), 4);
  std::memcpy(&dst, client.ip.bytes.data(), 4);
  mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, src);
  mnl_attr_put_u32(nlh, CTA_IP_V4_DST, dst);
  mnl_attr_nest_end(nlh, ip);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
  mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(proxy_.port));
  mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(client.port));
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
  CtWalk w;
  if (mnlRequest(nl_, nlh, buf, sizeof buf, ctMessage, &w) != 0 || !w.have_addr || !w.have_port) return std::nullopt;
  Endpoint e;
  std::memcpy(e.ip.bytes.data(), &w.addr, 4);
  e.port = w.port;
  if (e.ip == proxy_.ip && e.port == proxy_.port) return std::nullopt;  // dialled directly
  return e;
}

std::optional<Endpoint> OriginalDestinations::fromSockDiag(const Endpoint& client) {
  // The client's socket is IPv4, or IPv6 dual-stack with the mapped address.
  for (int family : {AF_INET, AF_INET6}) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = putHeader(buf, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_ACK, ++seq_);
    auto* req = static_cast<inet_diag_req_v2*>(putExtraHeader(nlh, sizeof(inet_diag_req_v2)));
    req->sdiag_family = static_cast<uint8_t>(family);
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = ~0u;
    req->id.idiag_sport = htons(client.port);
    req->id.idiag_dport = htons(proxy_.port);
    req->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (family == AF_INET) {
      std::memcpy(req->id.idiag_src, client.ip.bytes.data(), 4);
      std::memcpy(req->id.idiag_dst, proxy_.ip.bytes.data(), 4);
    } else {
      auto mapped = [](uint32_t* out, const IpAddress& ip) {
        out[0] = 0;
        out[1] = 0;
        out[2] = htonl(0xffff);
        std::memcpy(&out[3], ip.bytes.data(), 4);
      };
      mapped(req->id.idiag_src, client.ip);
      mapped(req->id.idiag_dst, proxy_.ip);
    }
    DiagWalk w;
    if (mnlRequest(nl_, nlh, buf, sizeof buf, diagMessage, &w) == 0 && w.found) {
      return gate_->originalDestination(w.cookie);
    }
  }
  return std::nullopt;
}

}  // namespace km::net
