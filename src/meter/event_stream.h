// AWS event-stream framing (application/vnd.amazon.eventstream), as Bedrock's streaming
// APIs send it, parsed incrementally: each message is a prelude (total length, headers length,
// CRC32 of those eight bytes), headers, a payload and a CRC32 of everything before it; all
// integers big-endian. A CRC mismatch or an impossible length stops the parser (the bytes
// after it cannot be framed). Pure; one parser per stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace km::meter {

struct EventStreamMessage {
  std::string message_type;  // header ":message-type": event, exception, error
  std::string event_type;    // ":event-type" (or ":exception-type", ":error-code")
  std::string payload;
};

// IEEE CRC-32 (the zlib one), continuing from `crc`.
uint32_t crc32(std::string_view bytes, uint32_t crc = 0);

class EventStreamParser {
 public:
  // Messages longer than this are refused as corrupt (AWS caps them at 16 MiB).
  static constexpr uint32_t kMaxMessageBytes = uint32_t{16} << 20;

  void feed(std::string_view bytes, std::vector<EventStreamMessage>& out);

  // Empty while the stream is sound; else why it stopped (a CRC mismatch, say).
  const std::string& error() const { return error_; }
  // Bytes of an unfinished message held back (a stream cut here lost them).
  size_t pending() const { return buffer_.size(); }

 private:
  bool parseHeaders(std::string_view headers, EventStreamMessage& m);

  std::string buffer_;
  std::string error_;
};

}  // namespace km::meter
