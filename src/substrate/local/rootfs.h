// The sandbox's filesystem view, built inside its new mount namespace (private to local):
// overlay of the host root, persistent working dir and homes, private /tmp /run /dev /proc
// /sys, km's own state hidden, then pivot_root. Runs in the sandbox's init before it serves.
#pragma once

#include "core/result.h"
#include "substrate/local/layout.h"
#include "substrate/local/local.h"

namespace km::substrate::local {

// Terminals a sandbox may hold at once (its devpts `max`; km exec/shell take one each).
inline constexpr int kPtysPerSandbox = 64;

// Must run in a fresh mount namespace, as PID 1 of the new pid namespace (for /proc).
[[nodiscard]] Status buildRootfs(const Layout& layout, const LaunchSpec& spec);

// After buildRootfs, on first start: the sandbox user in /etc/passwd and /etc/group, the
// hostname in /etc/hosts, and the profile's configFiles. No symlink in the sandbox's root is
// followed: a file is replaced, never written through, and a linked directory is an error.
[[nodiscard]] Status writeFirstStartFiles(const LaunchSpec& spec);

// After buildRootfs, at every start: /etc/resolv.conf (replaced the same way).
[[nodiscard]] Status writeResolvConf(const std::string& text);

// Where the sandbox's CA is trusted (kCaFile alone; kCaBundle a link to the OS's store, which
// holds it too, or the CA alone on an OS without one). The proxy environment points clients
// at them.
inline constexpr const char* kCaFile = "/etc/km/ca.pem";
inline constexpr const char* kCaBundle = "/etc/km/ca-bundle.pem";
// After writeFirstStartFiles: the CA `pem` written to kCaFile; appended to the OS's own store
// (Debian's /etc/ssl/certs/ca-certificates.crt, Fedora's and Amazon Linux's
// /etc/pki/tls/certs/ca-bundle.crt) where one exists, so clients that read only the system
// store trust it, and dropped in that OS's anchor directory (where it exists) so that a
// rebuild of the store keeps it; also at upstream's path,
// /usr/local/share/ca-certificates/km-proxy-ca.crt, which upstream's profiles read; kCaBundle
// made. Files km owns are replaced, never written
// through; the OS store, resolved inside the sandbox's root and required to be a file under
// /etc, is replaced by a copy with the CA added (marked by a comment line) and the CAs km
// added before (a clone's source's) left out.
[[nodiscard]] Status installCaCertificate(const std::string& pem);

}  // namespace km::substrate::local
