// libFuzzer target for the ClientHello reader the transparent port and CONNECT tunnels use
// to learn the TLS server name. Properties besides "no crash, no UB, no leak": a hello read
// as complete names a host name or nothing; a prefix of a complete hello is never read as a
// different one (it needs more, or is the same).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "net/proxy/client_hello.h"

using namespace km::net::proxy;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  ClientHello h = parseClientHello(in);
  if (h.status != ClientHello::Status::kOk) return 0;
  require(h.server_name.empty() || isHostName(h.server_name));
  if (size > 1) {
    ClientHello shorter = parseClientHello(in.first(size - 1));
    require(shorter.status != ClientHello::Status::kOk || shorter.server_name == h.server_name);
  }
  return 0;
}
