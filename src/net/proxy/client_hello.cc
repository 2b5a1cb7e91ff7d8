#include "net/proxy/client_hello.h"

#include <string_view>

namespace km::net::proxy {
namespace {

constexpr uint8_t kHandshakeRecord = 0x16;
constexpr uint8_t kClientHelloType = 1;
constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtAlpn = 16;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecord = (16 << 10) + 2048;  // TLSPlaintext limit plus slack (RFC 8446 §5.1)

// A bounds-checked reader over the handshake message; the first failure sticks.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> b, size_t base = 0) : b_(b), base_(base) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t left() const { return b_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }

  uint32_t u(int bytes, const char* what) {
    if (!need(static_cast<size_t>(bytes), what)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | b_[pos_++];
    return v;
  }
  std::span<const uint8_t> take(size_t n, const char* what) {
    if (!need(n, what)) return {};
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // A vector with a `len_bytes` length prefix, its contents as a sub-cursor.
  Cursor vec(int len_bytes, const char* what) {
    size_t at = offset();
    uint32_t n = u(len_bytes, what);
    auto body = take(n, what);
    Cursor c(body, at + static_cast<size_t>(len_bytes));
    if (!ok()) c.fail(error_);
    return c;
  }
  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

 private:
  bool need(size_t n, const char* what) {
    if (!ok()) return false;
    if (left() < n) {
      fail(std::string(what) + " runs past its container at offset " + std::to_string(offset()));
      return false;
    }
    return true;
  }
  std::span<const uint8_t> b_;
  size_t base_ = 0, pos_ = 0;
  std::string error_;
};

ClientHello malformed(ClientHello h, std::string why) {
  h.status = ClientHello::Status::kMalformed;
  h.error = std::move(why);
  return h;
}

}  // namespace

bool isHostName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

ClientHello parseClientHello(std::span<const uint8_t> bytes) {
  ClientHello h;
  if (bytes.empty()) return h;
  if (bytes[0] != kHandshakeRecord) {
    h.status = ClientHello::Status::kNotTls;
    return h;
  }
  // Gather the handshake message from as many handshake records as it spans.
  std::vector<uint8_t> msg;
  size_t pos = 0;
  size_t want = 0;  // the whole message: 4-byte header + body; 0 until the header is read
  while (want == 0 || msg.size() < want) {
    if (bytes.size() - pos < kRecordHeader) return h;  // kNeedMore
    if (bytes[pos] != kHandshakeRecord) {
      return malformed(h, "record at offset " + std::to_string(pos) + " is not a handshake record");
    }
    uint16_t version = static_cast<uint16_t>(bytes[pos + 1] << 8 | bytes[pos + 2]);
    if (pos == 0) h.legacy_version = version;
    if ((version >> 8) != 3) return malformed(h, "record version " + std::to_string(version) + " is not TLS");
    size_t len = static_cast<size_t>(bytes[pos + 3] << 8 | bytes[pos + 4]);
    if (len == 0 || len > kMaxRecord) {
      return malformed(h, "record length " + std::to_string(len) + " at offset " + std::to_string(pos));
    }
    if (bytes.size() - pos - kRecordHeader < len) {
      // Incomplete record: only worth waiting for if it fits.
      if (msg.size() + len > kMaxClientHello + 4) return malformed(h, "ClientHello larger than 64 KiB");
      return h;
    }
    msg.insert(msg.end(), bytes.begin() + static_cast<ptrdiff_t>(pos + kRecordHeader),
               bytes.begin() + static_cast<ptrdiff_t>(pos + kRecordHeader + len));
    pos += kRecordHeader + len;
    if (want == 0 && msg.size() >= 4) {
      if (msg[0] != kClientHelloType) return malformed(h, "first handshake message is not a ClientHello");
      size_t body = static_cast<size_t>(msg[1]) << 16 | static_cast<size_t>(msg[2]) << 8 | msg[3];
      if (body > kMaxClientHello) return malformed(h, "ClientHello larger than 64 KiB");
      want = 4 + body;
    }
  }
  // A record may carry the next handshake message after the hello; it is not ours to read.
  Cursor c(std::span<const uint8_t>(msg).subspan(4, want - 4), 4);
  c.u(2, "client version");
  c.take(32, "random");
  Cursor session = c.vec(1, "session id");
  if (c.ok() && session.left() > 32) c.fail("session id longer than 32 bytes");
  Cursor suites = c.vec(2, "cipher suites");
  if (c.ok() && (suites.left() == 0 || suites.left() % 2)) c.fail("cipher suite list of odd or zero length");
  Cursor compression = c.vec(1, "compression methods");
  if (c.ok() && compression.left() == 0) c.fail("no compression method");
  if (!c.ok()) return malformed(h, c.error());
  if (c.left() == 0) {
    h.status = ClientHello::Status::kOk;  // no extensions at all: no SNI
    return h;
  }
  Cursor exts = c.vec(2, "extensions");
  if (c.ok() && c.left() != 0) c.fail("bytes after the extensions at offset " + std::to_string(c.offset()));
  bool seen_sni = false, seen_alpn = false;
  while (exts.ok() && c.ok() && exts.left() > 0) {
    uint32_t type = exts.u(2, "extension type");
    Cursor body = exts.vec(2, "extension");
    if (!exts.ok()) break;
    if (type == kExtServerName) {
      if (seen_sni) return malformed(h, "two server_name extensions");
      seen_sni = true;
      Cursor list = body.vec(2, "server name list");
      int names = 0;
      while (list.ok() && list.left() > 0) {
        uint32_t name_type = list.u(1, "server name type");
        auto name = list.take(list.u(2, "server name"), "server name");
        if (!list.ok()) break;
        if (name_type != 0) continue;  // only host_name is defined; others are skipped
        if (++names > 1) return malformed(h, "two server names in one hello");
        h.server_name.assign(name.begin(), name.end());
      }
      if (!list.ok()) return malformed(h, list.error());
      if (body.left() != 0) return malformed(h, "bytes after the server name list");
      if (names == 1 && !isHostName(h.server_name)) return malformed(h, "server name is not a host name");
    } else if (type == kExtAlpn) {
      if (seen_alpn) return malformed(h, "two ALPN extensions");
      seen_alpn = true;
      Cursor list = body.vec(2, "ALPN list");
      while (list.ok() && list.left() > 0) {
        auto p = list.take(list.u(1, "protocol name"), "protocol name");
        if (list.ok() && p.empty()) list.fail("empty protocol name");
        if (list.ok()) h.alpn.emplace_back(p.begin(), p.end());
      }
      if (!list.ok()) return malformed(h, list.error());
    }
  }
  if (!exts.ok()) return malformed(h, exts.error());
  if (!c.ok()) return malformed(h, c.error());
  h.status = ClientHello::Status::kOk;
  return h;
}

}  // namespace km::net::proxy
