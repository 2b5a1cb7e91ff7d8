// AWS event-stream messages as Bedrock frames them, built for tests: string headers
// :event-type, :content-type and :message-type (plus any `extra_headers`, already encoded),
// the payload, and both CRC32s.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "meter/event_stream.h"

namespace km::meter::testing {

inline std::string be32(uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xFF));
  return s;
}

inline std::string stringHeader(std::string_view name, std::string_view value) {
  std::string h;
  h.push_back(static_cast<char>(name.size()));
  h.append(name);
  h.push_back(7);  // string
  h.push_back(static_cast<char>(value.size() >> 8));
  h.push_back(static_cast<char>(value.size() & 0xFF));
  h.append(value);
  return h;
}

inline std::string frame(std::string_view event_type, std::string_view payload, std::string_view message_type = "event",
                         const std::string& extra_headers = "") {
  std::string headers = stringHeader(":event-type", event_type) + stringHeader(":content-type", "application/json") +
                        stringHeader(":message-type", message_type) + extra_headers;
  std::string m = be32(static_cast<uint32_t>(12 + headers.size() + payload.size() + 4)) +
                  be32(static_cast<uint32_t>(headers.size()));
  m += be32(crc32(m));
  m += headers;
  m.append(payload);
  return m + be32(crc32(m));
}

}  // namespace km::meter::testing
