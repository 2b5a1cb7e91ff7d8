// km::net::NfLog — packets that nftables rules log to an NFLOG group (`log group N`), read
// over netfilter netlink (libmnl) in a given network namespace. The `proxy` enforcement mode
// uses it to put its refusals and redirects into the sandbox's network log, as the eBPF ring
// buffer does for `ebpf`. Not thread-safe: one reader.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "net/address.h"

namespace km::net {

class NfLog {
 public:
  struct Entry {
    std::string prefix;  // the rule's `prefix`
    IpAddress dest;
    uint16_t port = 0;
    std::string protocol;  // tcp | udp | icmp | icmpv6 | <number>
    std::optional<uint32_t> uid;  // of the sending socket, when the kernel knows it
  };

  // Binds NFLOG group `group` in the network namespace of `netns_of` (0 = ours); the caller
  // must be single-threaded when netns_of > 0.
  [[nodiscard]] static Result<NfLog> open(pid_t netns_of, uint16_t group);
  NfLog(NfLog&&) noexcept;
  NfLog& operator=(NfLog&&) noexcept;
  ~NfLog();

  int fd() const;
  // Reads every queued message; calls `fn` for each logged packet. Returns how many.
  int drain(const std::function<void(const Entry&)>& fn);

 private:
  struct Impl;
  explicit NfLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The NFLOG group km's sandbox rules log to.
inline constexpr uint16_t kSandboxLogGroup = 7;

}  // namespace km::net
