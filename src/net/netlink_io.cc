#include "net/netlink_io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <sched.h>

#include <cerrno>

#include "core/sys.h"

namespace km::net {

int mnlRequest(mnl_socket* nl, nlmsghdr* nlh, char* buf, size_t size,
               int (*cb)(const nlmsghdr*, void*), void* data) {
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return errno;
  unsigned port = mnl_socket_get_portid(nl);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf, size);
    if (n < 0) return errno;
    int rc = mnl_cb_run(buf, static_cast<size_t>(n), nlh->nlmsg_seq, port, cb, data);
    if (rc < 0) return errno;
    if (rc == MNL_CB_STOP) return 0;
  }
}

void MnlSocketCloser::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Result<MnlSocket> openNetlink(int bus, const std::string& what) {
  MnlSocket nl(mnl_socket_open2(bus, SOCK_CLOEXEC));
  if (!nl) return sys::errnoError("netlink", what, errno);
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) return sys::errnoError("netlink bind", what, errno);
  return nl;
}

nlmsghdr* putHeader(char* buf, uint16_t type, uint16_t flags, uint32_t seq) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  return nlh;
}

void* putExtraHeader(nlmsghdr* nlh, size_t size) { return mnl_nlmsg_put_extra_header(nlh, size); }

nlmsghdr* putNfRequest(char* buf, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id, uint32_t seq) {
  nlmsghdr* nlh = nullptr;
  auto* nfg = putRequest<nfgenmsg>(buf, type, flags, &nlh, seq);
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(res_id);
  return nlh;
}

Status inNetnsOf(pid_t pid, const std::function<void()>& fn) {
  if (pid <= 0) {
    fn();
    return ok();
  }
  auto own = sys::open("/proc/self/ns/net", O_RDONLY);
  if (!own) return std::move(own).error();
  auto target = sys::open("/proc/" + std::to_string(pid) + "/ns/net", O_RDONLY);
  if (!target) return std::move(target).error();
  if (::setns(target->get(), CLONE_NEWNET) != 0) return sys::errnoError("setns", "sandbox network", errno);
  fn();
  if (::setns(own->get(), CLONE_NEWNET) != 0) return sys::errnoError("setns", "back to the host network", errno);
  return ok();
}

std::string ipProtocolName(uint8_t proto) {
  switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "icmpv6";
  }
  return std::to_string(proto);
}

}  // namespace km::net
