// km::net nftables — rules through libnftables (loaded with dlopen on first use, so km's
// other commands never pay for it), in the host's or a sandbox's network namespace.
//
// Host rules (table `inet km`, made once, the same for every sandbox): sandboxes' veths
// (their host ends are in interface group kVethGroup) may reach the host only on DNS
// (kDnsPort) and the proxy ports (kProxyPort, kTransparentProxyPort); they may not reach
// each other; what they send elsewhere is masqueraded. Interfaces outside the group are
// not touched. IPv4 forwarding is switched on (as container runtimes do).
#pragma once

#include <sys/types.h>

#include <string>

#include "core/result.h"
#include "net/address.h"

namespace km::net {

// Runs an nft script (nft -f syntax) as one transaction; `netns_of` > 0 runs it in that
// process's network namespace (the caller must be single-threaded). Errors carry nft's text.
[[nodiscard]] Status nftRun(const std::string& script, pid_t netns_of = 0);

// Installs `table inet km_sandbox` (enforcement `proxy`) in the calling thread's network
// namespace as one nfnetlink batch: outbound DNS to any other server is sent to the resolver
// at `host`:kDnsPort and TCP 80/443 to the proxy at `host`:kTransparentProxyPort (logged
// "km-dns", "km-proxy");
// only those and loopback leave, the rest is refused with a reset or "administratively
// prohibited" and logged "km-deny", all to NFLOG group `log_group`.
[[nodiscard]] Status installSandboxRules(const IpAddress& host, uint16_t log_group);

// Whether this km's host rules are installed (`table inet km` with the marker chain named
// after this ruleset's fingerprint, hostRulesMark());
// tablePresent / chainPresent: any `inet` table or chain of this network namespace (one
// nfnetlink request each).
[[nodiscard]] Result<bool> hostRulesPresent();
[[nodiscard]] Result<bool> tablePresent(const std::string& name);
[[nodiscard]] Result<bool> chainPresent(const std::string& table, const std::string& chain);

// New connections one sandbox may have open through the host at once (its forwarded,
// masqueraded traffic; each is an entry of the host's connection-tracking table).
inline constexpr int kForwardedConnectionsPerSandbox = 4096;

// Makes the host rules (replacing a table of another km version whole) and turns on IPv4
// forwarding, when not done yet.
[[nodiscard]] Status ensureHostRules();

// The host ruleset km installs (for docs, doctor and tests), and the name of its marker
// chain: "rules_" and 8 hex digits of the ruleset's fingerprint.
std::string hostRuleset();
std::string hostRulesMark();

// Interface name prefix every sandbox veth's host end has (for people and doctor; the
// rules go by kVethGroup).
inline constexpr const char* kVethPrefix = "km";

}  // namespace km::net
