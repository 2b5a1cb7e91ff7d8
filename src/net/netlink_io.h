// What the netlink users of km::net share (private to net): one request/answer exchange over
// libmnl, running code inside another process's network namespace, and IP protocol names.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "core/result.h"

struct mnl_socket;
struct nlmsghdr;

namespace km::net {

// Sends `nlh` and reads until its ACK or the end of a dump, calling `cb` (an mnl_cb_t, may
// be null) for each data message. Returns 0, or the errno that ended it (the kernel's error
// for the request included).
int mnlRequest(mnl_socket* nl, nlmsghdr* nlh, char* buf, size_t size,
               int (*cb)(const nlmsghdr*, void*) = nullptr, void* data = nullptr);

// Runs `fn` with the calling thread in the network namespace of `pid` (0: where it is) and
// moves it back. The caller's other threads stay where they are.
[[nodiscard]] Status inNetnsOf(pid_t pid, const std::function<void()>& fn);

// "tcp", "udp", "icmp", "icmpv6", or the number.
std::string ipProtocolName(uint8_t proto);

}  // namespace km::net
