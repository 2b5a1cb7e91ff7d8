// km::supervisor::DataPlane — what a sandbox's services share, and the services themselves:
// the eBPF gate (null in proxy mode), the resolution table (address → allowed name, filled
// by the resolver, read by the network log), the audit writers (the network and command
// logs, both redacting with one Redactor), and the services using them — the resolver, the
// HTTP proxy and the exec audit.
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
#include "audit/exec_audit.h"
#include "audit/redact.h"
#include "core/result.h"
#include "core/rotating_file.h"
#include "net/bpf/gate.h"
#include "net/proxy/proxy.h"
#include "net/resolution_table.h"
#include "net/service.h"

namespace km::supervisor {

class DataPlane {
 public:
  // The shared parts: `gate` (may be null) moves in; the network and command logs are
  // appended at their paths within `limits` ("" = no log), redacted by `redactor` (the
  // built-in patterns and the sandbox's secret values). RotatingFile::open's error when a log
  // cannot be opened.
  struct Logs {
    std::string network_path, command_path;
    RotationLimits limits;
    std::shared_ptr<const audit::Redactor> redactor;
  };
  [[nodiscard]] static Result<std::unique_ptr<DataPlane>> open(std::unique_ptr<net::EgressGate> gate, const Logs& logs);
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Starts the resolver service on the shared parts. Its start() error (the bind) when it
  // fails; then no resolver runs. At most one resolver.
  [[nodiscard]] Status startResolver(net::ServiceOptions options);
  // Starts the HTTP proxy on the shared parts (enforcement proxy and both). Its start() error
  // (the bind) when it fails; then no proxy runs. At most one proxy.
  [[nodiscard]] Status startProxy(net::proxy::Options options);
  // Starts the exec audit (`audit` loaded, see ExecAudit::load) on the processes under
  // `cgroup_v2_dir`, writing the command log. Its start() error when it fails; then no audit
  // runs. At most one.
  [[nodiscard]] Status startExecAudit(std::unique_ptr<audit::ExecAudit> audit, const std::string& cgroup_v2_dir);
  // Stops every service (joined, flushed); the shared parts stay. Idempotent.
  void stopServices();

  net::EgressGate* gate() const { return gate_.get(); }
  net::ResolutionTable& resolutions() { return resolutions_; }
  audit::Writer& audit() { return *audit_; }
  audit::Writer& commands() { return *commands_; }
  const audit::ExecAudit* execAudit() const { return exec_audit_.get(); }

 private:
  DataPlane(std::unique_ptr<net::EgressGate> gate, std::unique_ptr<audit::Writer> audit,
            std::unique_ptr<audit::Writer> commands);

  // Declared in the order they are made; destroyed bottom-up: services before what they use.
  std::unique_ptr<net::EgressGate> gate_;
  net::ResolutionTable resolutions_;
  std::unique_ptr<audit::Writer> audit_;
  std::unique_ptr<audit::Writer> commands_;
  std::unique_ptr<audit::ExecAudit> exec_audit_;
  std::unique_ptr<net::Service> resolver_;
  std::unique_ptr<net::proxy::Proxy> proxy_;
};

}  // namespace km::supervisor
