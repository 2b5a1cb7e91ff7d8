// km::supervisor::DataPlane — what a sandbox's services share, and the services themselves:
// the eBPF gate (null in proxy mode), the resolution table (address → allowed name, filled
// by the resolver, read by the network log), the audit writer (the network log), and the
// services using them — the resolver and the HTTP proxy.
//
// Destruction order is teardown order: the services stop first (their threads joined, the
// last audit records flushed), then the writer, the table and the gate go. Members are
// declared in the reverse order so the compiler keeps it; ~DataPlane also stops the
// services explicitly. Private to supervisor. start/stop from the supervisor's control
// thread; the shared parts are thread-safe (the gate's map updates are atomic in the kernel).
#pragma once

#include <memory>
#include <string>

#include "audit/audit.h"
#include "core/result.h"
#include "core/rotating_file.h"
#include "net/bpf/gate.h"
#include "net/proxy/proxy.h"
#include "net/resolution_table.h"
#include "net/service.h"

namespace km::supervisor {

class DataPlane {
 public:
  // The shared parts: `gate` (may be null) moves in; the audit log is appended at
  // `audit_path` within `limits` ("" = no log). RotatingFile::open's error when the log
  // cannot be opened.
  [[nodiscard]] static Result<std::unique_ptr<DataPlane>> open(std::unique_ptr<net::EgressGate> gate,
                                                               const std::string& audit_path, RotationLimits limits);
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Starts the resolver service on the shared parts. Its start() error (the bind) when it
  // fails; then no resolver runs. At most one resolver.
  [[nodiscard]] Status startResolver(net::ServiceOptions options);
  // Starts the HTTP proxy on the shared parts (enforcement proxy and both). Its start() error
  // (the bind) when it fails; then no proxy runs. At most one proxy.
  [[nodiscard]] Status startProxy(net::proxy::Options options);
  // Stops every service (joined, flushed); the shared parts stay. Idempotent.
  void stopServices();

  net::EgressGate* gate() const { return gate_.get(); }
  net::ResolutionTable& resolutions() { return resolutions_; }
  audit::Writer& audit() { return *audit_; }

 private:
  DataPlane(std::unique_ptr<net::EgressGate> gate, std::unique_ptr<audit::Writer> audit);

  // Declared in the order they are made; destroyed bottom-up: services before what they use.
  std::unique_ptr<net::EgressGate> gate_;
  net::ResolutionTable resolutions_;
  std::unique_ptr<audit::Writer> audit_;
  std::unique_ptr<net::Service> resolver_;
  std::unique_ptr<net::proxy::Proxy> proxy_;
};

}  // namespace km::supervisor
