// What net's sources of audit records (the resolver's log entries, the eBPF ring buffer's
// events, the sandbox's NFLOG packets) become as audit records. Private to net; pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "audit/audit.h"
#include "net/bpf/gate.h"
#include "net/dns/resolver.h"
#include "net/nflog.h"

namespace km::net {

audit::DnsRecord dnsRecord(const dns::LogEntry& e);

// `name`: the allowed name the destination was resolved for ("" when none). The event's
// time is on the programs' clock: `now_mono_ns` (monotonicNs()) and `now` (the wall clock
// read with it) place it on the wall clock.
audit::ConnectRecord gateRecord(const GateEvent& g, std::string name, uint64_t now_mono_ns,
                                std::chrono::system_clock::time_point now);

// A packet the sandbox's nftables (enforcement proxy) logged, read at `now`.
audit::ConnectRecord nfRecord(const NfLog::Entry& n, std::string name, std::chrono::system_clock::time_point now);

}  // namespace km::net
