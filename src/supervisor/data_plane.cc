#include "supervisor/data_plane.h"

#include "core/check.h"

namespace km::supervisor {

DataPlane::DataPlane(std::unique_ptr<net::EgressGate> gate, std::unique_ptr<audit::Writer> audit)
    : gate_(std::move(gate)), audit_(std::move(audit)) {}

Result<std::unique_ptr<DataPlane>> DataPlane::open(std::unique_ptr<net::EgressGate> gate,
                                                   const std::string& audit_path, RotationLimits limits) {
  std::unique_ptr<audit::Writer> writer;
  if (audit_path.empty()) {
    writer = std::make_unique<audit::Writer>();
  } else {
    auto w = audit::Writer::open(audit_path, limits);
    if (!w) return std::move(w).error();
    writer = std::move(*w);
  }
  return std::unique_ptr<DataPlane>(new DataPlane(std::move(gate), std::move(writer)));
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

void DataPlane::stopServices() {
  // The proxy first: its lookups ask the resolver.
  if (proxy_) proxy_->stop();
  proxy_.reset();
  if (resolver_) resolver_->stop();
  resolver_.reset();
}

}  // namespace km::supervisor
