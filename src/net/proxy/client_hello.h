// Reads a TLS ClientHello from the first bytes a client sends, without terminating TLS: the
// server name (SNI) and the offered ALPN protocols, so the proxy can check the name before a
// byte reaches any server. Strict: a malformed hello, two server names, or a name that is not
// a DNS host name is an error, never guessed at. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace km::net::proxy {

// The largest ClientHello accepted (the handshake message, across records). Post-quantum key
// shares make hellos of ~2 KiB; 64 KiB leaves room without letting a client grow a buffer.
inline constexpr size_t kMaxClientHello = 64 << 10;

struct ClientHello {
  enum class Status { kNeedMore, kNotTls, kMalformed, kOk };
  Status status = Status::kNeedMore;
  std::string error;                // kMalformed: what was wrong, with the offset
  std::string server_name;          // "" when the hello carries no SNI
  std::vector<std::string> alpn;    // as offered, in order
  uint16_t legacy_version = 0;      // the record layer's version
};

// Parses `bytes`, the start of what the client sent. kNeedMore while the hello is not
// complete; kNotTls when the first byte is not a TLS handshake record.
ClientHello parseClientHello(std::span<const uint8_t> bytes);

// True for a name the proxy can check: 1–253 bytes of labels of letters, digits, '-' and '_',
// 1–63 bytes each, one optional trailing dot.
bool isHostName(std::string_view name);

}  // namespace km::net::proxy
