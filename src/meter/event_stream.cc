#include "meter/event_stream.h"

#include <array>

namespace km::meter {
namespace {

constexpr std::array<uint32_t, 256> makeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = makeCrcTable();

uint32_t be32(std::string_view b, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

uint16_t be16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) << 8 | static_cast<unsigned char>(b[at + 1]));
}

constexpr size_t kPrelude = 12;  // total length, headers length, prelude CRC
constexpr size_t kTrailer = 4;   // message CRC

}  // namespace

uint32_t crc32(std::string_view bytes, uint32_t crc) {
  crc = ~crc;
  for (unsigned char c : bytes) crc = kCrcTable[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void EventStreamParser::feed(std::string_view bytes, std::vector<EventStreamMessage>& out) {
  if (!error_.empty()) return;
  buffer_.append(bytes);
  size_t at = 0;
  while (buffer_.size() - at >= kPrelude) {
    std::string_view rest = std::string_view(buffer_).substr(at);
    uint32_t total = be32(rest, 0), headers_len = be32(rest, 4);
    if (crc32(rest.substr(0, 8)) != be32(rest, 8)) {
      error_ = "event-stream prelude CRC mismatch";
      break;
    }
    if (total < kPrelude + kTrailer || total > kMaxMessageBytes || headers_len > total - kPrelude - kTrailer) {
      error_ = "event-stream message length " + std::to_string(total) + " (headers " + std::to_string(headers_len) + ") is impossible";
      break;
    }
    if (rest.size() < total) break;  // the rest of this message has not arrived
    std::string_view message = rest.substr(0, total);
    if (crc32(message.substr(0, total - kTrailer)) != be32(message, total - kTrailer)) {
      error_ = "event-stream message CRC mismatch";
      break;
    }
    EventStreamMessage m;
    if (!parseHeaders(message.substr(kPrelude, headers_len), m)) break;
    m.payload.assign(message.substr(kPrelude + headers_len, total - kPrelude - headers_len - kTrailer));
    out.push_back(std::move(m));
    at += total;
  }
  if (!error_.empty()) {
    buffer_.clear();
    return;
  }
  buffer_.erase(0, at);
}

bool EventStreamParser::parseHeaders(std::string_view h, EventStreamMessage& m) {
  size_t i = 0;
  auto bad = [&] {
    error_ = "event-stream headers are malformed";
    return false;
  };
  while (i < h.size()) {
    size_t name_len = static_cast<unsigned char>(h[i++]);
    if (name_len == 0 || i + name_len + 1 > h.size()) return bad();
    std::string_view name = h.substr(i, name_len);
    i += name_len;
    unsigned type = static_cast<unsigned char>(h[i++]);
    size_t fixed = 0;
    switch (type) {
      case 0: case 1: fixed = 0; break;  // true, false
      case 2: fixed = 1; break;          // byte
      case 3: fixed = 2; break;          // short
      case 4: fixed = 4; break;          // int
      case 5: case 8: fixed = 8; break;  // long, timestamp
      case 9: fixed = 16; break;         // uuid
      case 6: case 7: {                  // bytes, string: 2-byte length
        if (i + 2 > h.size()) return bad();
        size_t len = be16(h, i);
        i += 2;
        if (i + len > h.size()) return bad();
        std::string_view value = h.substr(i, len);
        i += len;
        if (type == 7) {
          if (name == ":message-type") m.message_type.assign(value);
          else if (name == ":event-type" || name == ":exception-type" || name == ":error-code") m.event_type.assign(value);
        }
        continue;
      }
      default: return bad();
    }
    if (i + fixed > h.size()) return bad();
    i += fixed;
  }
  return true;
}

}  // namespace km::meter
