#include "supervisor/data_plane.h"

#include "core/check.h"

namespace km::supervisor {

DataPlane::DataPlane(std::unique_ptr<net::EgressGate> gate, std::unique_ptr<audit::Writer> audit,
                     std::unique_ptr<audit::Writer> commands)
    : gate_(std::move(gate)), audit_(std::move(audit)), commands_(std::move(commands)) {}

namespace {
Result<std::unique_ptr<audit::Writer>> openLog(const std::string& path, const DataPlane::Logs& logs) {
  if (path.empty()) return std::make_unique<audit::Writer>();
  return audit::Writer::open(path, logs.limits, logs.redactor);
}
}  // namespace

Result<std::unique_ptr<DataPlane>> DataPlane::open(std::unique_ptr<net::EgressGate> gate, const Logs& logs) {
  auto network = openLog(logs.network_path, logs);
  if (!network) return std::move(network).error();
  auto commands = openLog(logs.command_path, logs);
  if (!commands) return std::move(commands).error();
  return std::unique_ptr<DataPlane>(new DataPlane(std::move(gate), std::move(*network), std::move(*commands)));
}

DataPlane::~DataPlane() { stopServices(); }

Status DataPlane::startResolver(net::ServiceOptions options) {
  KM_CHECK(!resolver_) << "a second resolver for one sandbox";
  auto svc = std::make_unique<net::Service>(std::move(options), gate_.get(), resolutions_, *audit_);
  KM_TRY(svc->start());
  resolver_ = std::move(svc);
  return ok();
}

Status DataPlane::startProxy(net::proxy::Options options) {
  KM_CHECK(!proxy_) << "a second proxy for one sandbox";
  auto p = std::make_unique<net::proxy::Proxy>(std::move(options), *audit_);
  KM_TRY(p->start());
  proxy_ = std::move(p);
  return ok();
}

Status DataPlane::startExecAudit(std::unique_ptr<audit::ExecAudit> audit, const std::string& cgroup_v2_dir) {
  KM_CHECK(!exec_audit_) << "a second exec audit for one sandbox";
  KM_TRY(audit->start(cgroup_v2_dir, *commands_));
  exec_audit_ = std::move(audit);
  return ok();
}

void DataPlane::stopServices() {
  // The proxy first: its lookups ask the resolver.
  if (proxy_) proxy_->stop();
  proxy_.reset();
  if (resolver_) resolver_->stop();
  resolver_.reset();
  if (exec_audit_) exec_audit_->stop();
  exec_audit_.reset();
}

}  // namespace km::supervisor
