#include "net/audit_records.h"

namespace km::net {

audit::DnsRecord dnsRecord(const dns::LogEntry& e) {
  audit::DnsRecord r;
  r.time = e.time;
  r.client = e.client;
  r.transport = e.transport;
  r.name = e.name;
  r.type = e.type;
  r.decision = e.allowed ? audit::Decision::kAllow : audit::Decision::kDeny;
  r.reason = e.reason;
  r.rcode = e.rcode;
  r.cached = e.cached;
  r.addresses = e.addresses;
  r.withheld = e.withheld;
  return r;
}

audit::ConnectRecord gateRecord(const GateEvent& g, std::string name, uint64_t now_mono_ns,
                                std::chrono::system_clock::time_point now) {
  auto ago = std::chrono::nanoseconds(now_mono_ns > g.monotonic_ns ? now_mono_ns - g.monotonic_ns : 0);
  audit::ConnectRecord r;
  r.time = now - std::chrono::duration_cast<std::chrono::system_clock::duration>(ago);
  r.pid = g.pid;
  r.comm = g.comm;
  r.dest = g.address.toString();
  r.port = g.port;
  r.protocol = g.protocol;
  r.name = std::move(name);
  r.decision = g.verdict == "allow"      ? audit::Decision::kAllow
               : g.verdict == "redirect" ? audit::Decision::kRedirect
                                         : audit::Decision::kDeny;
  r.reason = g.reason;
  return r;
}

audit::ConnectRecord nfRecord(const NfLog::Entry& n, std::string name, std::chrono::system_clock::time_point now) {
  audit::ConnectRecord r;
  r.time = now;
  r.uid = n.uid;
  r.dest = n.dest.toString();
  r.port = n.port;
  r.protocol = n.protocol;
  r.name = std::move(name);
  r.decision = audit::Decision::kDeny;
  r.reason = "enforcement proxy: only DNS and web traffic (through the proxy) may leave";
  if (n.prefix == "km-proxy") {
    r.decision = audit::Decision::kRedirect;
    r.reason = "web traffic sent to the proxy";
  } else if (n.prefix == "km-dns") {
    r.decision = audit::Decision::kRedirect;
    r.reason = "DNS sent to the sandbox's resolver instead";
  }
  return r;
}

}  // namespace km::net
