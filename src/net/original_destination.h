// km::net::OriginalDestinations — where a connection that reached the transparent proxy was
// going, asked of the sandbox's own network namespace (the proxy runs in the host's, where
// that is not known):
//   * proxy: the sandbox's nftables rewrote the destination (DNAT), so its connection-tracking
//     table has the original; asked over ctnetlink by the connection's reply tuple.
//   * both: the eBPF program kept the original under the client socket's cookie; sock_diag
//     gives the cookie of the socket behind the proxy's peer address.
// A connection the sandbox dialled to the proxy port itself has no original destination.
// The netlink socket is opened inside the sandbox's namespace once (single-threaded, like
// SandboxNetwork::setUp); lookups are thread-safe (serialised).
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>

#include "core/result.h"
#include "net/address.h"

struct mnl_socket;

namespace km::net {

class EgressGate;

class OriginalDestinations {
 public:
  // `proxy` is the transparent listener's address and port (the host end of the veth).
  [[nodiscard]] static Result<std::unique_ptr<OriginalDestinations>> conntrack(pid_t netns_of, Endpoint proxy);
  // `gate` must outlive this object.
  [[nodiscard]] static Result<std::unique_ptr<OriginalDestinations>> sockDiag(pid_t netns_of, Endpoint proxy,
                                                                               const EgressGate& gate);
  ~OriginalDestinations();
  OriginalDestinations(const OriginalDestinations&) = delete;
  OriginalDestinations& operator=(const OriginalDestinations&) = delete;

  // Where the connection from `client` (as the proxy sees its peer) was going; nullopt when
  // nothing redirected it.
  std::optional<Endpoint> lookup(const Endpoint& client);

 private:
  OriginalDestinations(mnl_socket* nl, Endpoint proxy, const EgressGate* gate);
  std::optional<Endpoint> fromConntrack(const Endpoint& client);
  std::optional<Endpoint> fromSockDiag(const Endpoint& client);

  std::mutex mu_;
  mnl_socket* nl_;          // owned; used under mu_
  Endpoint proxy_;
  const EgressGate* gate_;  // null: conntrack
  uint32_t seq_ = 0;
};

}  // namespace km::net
