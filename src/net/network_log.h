// km::net::NetworkLog — the sandbox's network log as net::Service writes it: one JSON line
// per DNS query and per connect decision (eBPF or nftables), gathered during a loop turn and
// written with one write at its end (syscalls dominate a resolver's cost on virtual
// machines) to a RotatingFile, so a sandbox that floods cannot fill the host's disk.
// Private to net. Not thread-safe: the service's thread uses it (and stop(), after joining
// that thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/rotating_file.h"
#include "net/bpf/gate.h"
#include "net/dns/resolver.h"
#include "net/nflog.h"
#include "net/warning_pacer.h"

namespace km::net {

class NetworkLog {
 public:
  // A log that records nothing (the service was given no path).
  NetworkLog() = default;
  // Appends to `path` (created 0600), rotated within `limits`. RotatingFile::open's error
  // when it cannot.
  [[nodiscard]] static Result<NetworkLog> open(const std::string& path, RotationLimits limits);

  bool enabled() const { return file_.has_value(); }

  // Each adds one line to the turn's batch (nothing when disabled). `name`: the allowed name
  // the destination address was resolved for ("" when none).
  void dns(const dns::LogEntry& e);
  void gate(const GateEvent& g, std::string_view name);
  void nf(const NfLog::Entry& n, std::string_view name);

  // Appends the batch (one write unless it rotates) and empties it. When the append fails
  // the batch is dropped, not kept for a retry: a log that cannot be written must neither
  // stall the resolver nor pile up in memory. Each failure is counted; the supervisor's log
  // gets a warning at the first, then at most one a minute with the counts (so a sandbox
  // that can make writes fail cannot flood that log instead), and one when writing works
  // again. `now` paces those warnings.
  void flush(std::chrono::steady_clock::time_point now);

  // Appends that failed, and the lines they dropped, since open.
  uint64_t failedWrites() const { return failed_writes_; }
  uint64_t droppedLines() const { return dropped_lines_; }
  // The file (null when disabled): its counters say how much was written and rotated.
  const RotatingFile* file() const { return file_ ? &*file_ : nullptr; }

 private:
  void field(std::string_view key, std::string_view value, bool first = false);
  void fieldRaw(std::string_view key, std::string_view raw);
  void fieldList(std::string_view key, const std::vector<std::string>& list);

  void failed(const Error& e, std::chrono::steady_clock::time_point now);

  std::optional<RotatingFile> file_;
  std::string buf_;  // the lines of this loop turn
  uint64_t failed_writes_ = 0, dropped_lines_ = 0;
  WarningPacer failure_warnings_;  // counts failed writes between warnings
  uint64_t unwarned_lines_ = 0;    // lines they dropped
};

}  // namespace km::net
