// km::net::NetworkLog — the sandbox's network log as net::Service writes it: one JSON line
// per DNS query and per connect decision (eBPF or nftables), gathered during a loop turn and
// written with one write at its end (syscalls dominate a resolver's cost on virtual
// machines). Private to net. Not thread-safe: the service's thread uses it (and stop(),
// after joining that thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sys.h"
#include "net/bpf/gate.h"
#include "net/dns/resolver.h"
#include "net/nflog.h"

namespace km::net {

class NetworkLog {
 public:
  // A log that records nothing (the service was given no path).
  NetworkLog() = default;
  // Appends to `path` (created 0600). The open(2) error when it cannot.
  [[nodiscard]] static Result<NetworkLog> open(const std::string& path);

  bool enabled() const { return fd_.valid(); }

  // Each adds one line to the turn's batch (nothing when disabled). `name`: the allowed name
  // the destination address was resolved for ("" when none).
  void dns(const dns::LogEntry& e);
  void gate(const GateEvent& g, std::string_view name);
  void nf(const NfLog::Entry& n, std::string_view name);

  // Writes the batch and empties it.
  void flush();

 private:
  void field(std::string_view key, std::string_view value, bool first = false);
  void fieldRaw(std::string_view key, std::string_view raw);
  void fieldList(std::string_view key, const std::vector<std::string>& list);

  std::string path_;
  sys::UniqueFd fd_;
  std::string buf_;  // the lines of this loop turn
};

}  // namespace km::net
