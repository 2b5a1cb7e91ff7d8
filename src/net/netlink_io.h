// What the netlink users of km::net share (private to net): one request/answer exchange over
// libmnl, running code inside another process's network namespace, and IP protocol names.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"

struct mnl_socket;
struct nlmsghdr;

namespace km::net {

// A bound netlink socket, closed when it goes.
struct MnlSocketCloser {
  void operator()(mnl_socket* s) const;
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketCloser>;

// Opens and binds a netlink socket on `bus` (NETLINK_NETFILTER, …) in the calling thread's
// network namespace; errors name `what` ("nftables").
[[nodiscard]] Result<MnlSocket> openNetlink(int bus, const std::string& what);

// Sends `nlh` and reads until its ACK or the end of a dump, calling `cb` (an mnl_cb_t, may
// be null) for each data message. Returns 0, or the errno that ended it (the kernel's error
// for the request included).
int mnlRequest(mnl_socket* nl, nlmsghdr* nlh, char* buf, size_t size,
               int (*cb)(const nlmsghdr*, void*) = nullptr, void* data = nullptr);

// libmnl's header calls, here so that this header need not include libmnl's.
nlmsghdr* putHeader(char* buf, uint16_t type, uint16_t flags, uint32_t seq);
void* putExtraHeader(nlmsghdr* nlh, size_t size);

// Starts a request in `buf`: the netlink header (`type`, `flags`, `seq`) and, zeroed after
// it, the family header `Extra` (ifinfomsg, ifaddrmsg, rtmsg, …), which it returns.
template <typename Extra>
Extra* putRequest(char* buf, uint16_t type, uint16_t flags, nlmsghdr** nlh, uint32_t seq = 0) {
  *nlh = putHeader(buf, type, flags, seq);
  return static_cast<Extra*>(putExtraHeader(*nlh, sizeof(Extra)));
}

// The same for nfnetlink (nftables, NFLOG): the nfgenmsg with `family`, version 0 and
// `res_id` (host order).
nlmsghdr* putNfRequest(char* buf, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id,
                       uint32_t seq = 0);

// Runs `fn` with the calling thread in the network namespace of `pid` (0: where it is) and
// moves it back. The caller's other threads stay where they are.
[[nodiscard]] Status inNetnsOf(pid_t pid, const std::function<void()>& fn);

// "tcp", "udp", "icmp", "icmpv6", or the number.
std::string ipProtocolName(uint8_t proto);

}  // namespace km::net
