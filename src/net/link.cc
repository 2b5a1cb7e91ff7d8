#include "net/link.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/sys.h"
#include "net/netlink_io.h"

namespace km::net {
namespace {

Error netlinkError(std::string_view what, int err) { return sys::errnoError("netlink", what, err); }

}  // namespace

struct Netlink::Impl {
  mnl_socket* nl = nullptr;
  unsigned port = 0;
  uint32_t seq = static_cast<uint32_t>(::time(nullptr));
  std::vector<char> buf = std::vector<char>(MNL_SOCKET_BUFFER_SIZE * 2);
  ~Impl() {
    if (nl) mnl_socket_close(nl);
  }

  // Sends one request and reads until its ACK (or the end of a dump), calling `cb` for each
  // data message.
  Status request(nlmsghdr* nlh, std::string_view what, mnl_cb_t cb = nullptr, void* data = nullptr) {
    nlh->nlmsg_seq = ++seq;
    if (int err = mnlRequest(nl, nlh, buf.data(), buf.size(), cb, data)) return netlinkError(what, err);
    return ok();
  }
};

Netlink::Netlink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Netlink::Netlink(Netlink&&) noexcept = default;
Netlink& Netlink::operator=(Netlink&&) noexcept = default;
Netlink::~Netlink() = default;

Result<Netlink> Netlink::open(pid_t netns_of) {
  auto impl = std::make_unique<Impl>();
  int err = 0;
  // A netlink socket belongs to the namespace it was made in.
  KM_TRY(inNetnsOf(netns_of, [&] {
    impl->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    err = errno;
  }));
  if (!impl->nl) return netlinkError("socket", err);
  if (mnl_socket_bind(impl->nl, 0, MNL_SOCKET_AUTOPID) < 0) return netlinkError("bind", errno);
  impl->port = mnl_socket_get_portid(impl->nl);
  return Netlink(std::move(impl));
}

Status Netlink::createVeth(const std::string& host_name, const std::string& peer_name, pid_t peer_pid,
                           uint32_t host_group) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nullptr;
  auto* ifm = putRequest<ifinfomsg>(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &nlh);
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name.c_str());
  if (host_group != 0) mnl_attr_put_u32(nlh, IFLA_GROUP, host_group);
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  nlh->nlmsg_len += sizeof(ifinfomsg);  // the peer's own ifinfomsg, zeroed
  std::memset(reinterpret_cast<char*>(peer) + sizeof(nlattr), 0, sizeof(ifinfomsg));
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name.c_str());
  mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, static_cast<uint32_t>(peer_pid));
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  return impl_->request(nlh, "creating veth " + host_name);
}

Result<int> Netlink::linkIndex(const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nullptr;
  auto* ifm = putRequest<ifinfomsg>(buf, RTM_GETLINK, NLM_F_REQUEST, &nlh);
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  int index = 0;
  auto cb = [](const nlmsghdr* h, void* d) -> int {
    if (h->nlmsg_type == RTM_NEWLINK) {
      *static_cast<int*>(d) = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(h))->ifi_index;
    }
    return MNL_CB_STOP;
  };
  KM_TRY(impl_->request(nlh, "looking up " + name, cb, &index));
  if (index <= 0) return notFound("no network interface " + name);
  return index;
}

Status Netlink::addAddress(int index, const IpAddress& address, int prefix) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nullptr;
  auto* ifa = putRequest<ifaddrmsg>(buf, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &nlh);
  ifa->ifa_family = address.v6 ? AF_INET6 : AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(index);
  size_t len = address.v6 ? 16 : 4;
  mnl_attr_put(nlh, IFA_LOCAL, len, address.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, len, address.bytes.data());
  if (address.v6) ifa->ifa_flags = IFA_F_NODAD;
  return impl_->request(nlh, "adding address " + address.toString());
}

Status Netlink::setUp(int index) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nullptr;
  auto* ifm = putRequest<ifinfomsg>(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &nlh);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = index;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  return impl_->request(nlh, "setting link up");
}

Status Netlink::setGroup(int index, uint32_t group) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nullptr;
  auto* ifm = putRequest<ifinfomsg>(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &nlh);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = index;
  mnl_attr_put_u32(nlh, IFLA_GROUP, group);
  return impl_->request(nlh, "setting the interface group");
}

Status Netlink::addDefaultRoute(int index, const IpAddress& gateway) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nullptr;
  auto* rtm = putRequest<rtmsg>(buf, RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &nlh);
  rtm->rtm_family = gateway.v6 ? AF_INET6 : AF_INET;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put(nlh, RTA_GATEWAY, gateway.v6 ? 16 : 4, gateway.bytes.data());
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(index));
  return impl_->request(nlh, "adding the default route via " + gateway.toString());
}

Status Netlink::deleteLink(const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nullptr;
  auto* ifm = putRequest<ifinfomsg>(buf, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &nlh);
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  return impl_->request(nlh, "deleting " + name);
}

Result<std::vector<Cidr>> Netlink::addresses4() {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nullptr;
  auto* ifa = putRequest<ifaddrmsg>(buf, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &nlh);
  ifa->ifa_family = AF_INET;
  std::vector<Cidr> out;
  auto cb = [](const nlmsghdr* h, void* d) -> int {
    auto* list = static_cast<std::vector<Cidr>*>(d);
    const auto* msg = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(h));
    if (msg->ifa_family != AF_INET) return MNL_CB_OK;
    const nlattr* local = nullptr;
    auto attrCb = [](const nlattr* attr, void* out) -> int {
      if (mnl_attr_get_type(attr) == IFA_LOCAL && mnl_attr_get_payload_len(attr) == 4) {
        *static_cast<const nlattr**>(out) = attr;
      }
      return MNL_CB_OK;
    };
    mnl_attr_parse(h, sizeof(ifaddrmsg), attrCb, &local);
    if (local) {
      Cidr c;
      std::memcpy(c.base.bytes.data(), mnl_attr_get_payload(local), 4);
      c.prefix = msg->ifa_prefixlen;
      if (auto masked = Cidr::parse(c.toString())) list->push_back(*masked);
    }
    return MNL_CB_OK;
  };
  KM_TRY(impl_->request(nlh, "listing addresses", cb, &out));
  return out;
}

Result<Subnet> pickSubnet(const Cidr& pool, const std::vector<Cidr>& used) {
  if (pool.base.v6 || pool.prefix > 30) {
    return invalidArgument("network.subnetPool " + pool.toString() + " must be an IPv4 range of /30 or larger");
  }
  uint32_t base = (uint32_t{pool.base.bytes[0]} << 24) | (uint32_t{pool.base.bytes[1]} << 16) |
                  (uint32_t{pool.base.bytes[2]} << 8) | pool.base.bytes[3];
  uint64_t blocks = uint64_t{1} << (30 - pool.prefix);
  auto addr = [](uint32_t v) {
    return IpAddress::v4(static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                         static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v));
  };
  for (uint64_t i = 0; i < blocks; ++i) {
    uint32_t start = base + static_cast<uint32_t>(i * 4);
    Cidr block{addr(start), 30};
    bool taken = false;
    for (const auto& u : used) {
      // Two ranges overlap when either contains the other's base.
      if (u.base.v6) continue;
      if (block.contains(u.base) || u.contains(block.base)) {
        taken = true;
        break;
      }
    }
    if (!taken) return Subnet{block, addr(start + 1), addr(start + 2)};
  }
  return unavailable("network.subnetPool " + pool.toString() + " is used up (" + std::to_string(blocks) +
                     " sandboxes); give a larger pool in the operator config");
}

}  // namespace km::net
