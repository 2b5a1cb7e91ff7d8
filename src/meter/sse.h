// Server-sent events (text/event-stream, WHATWG HTML "Server-sent events"), parsed
// incrementally from bytes as they arrive: a response is metered on a tee of its stream, so
// chunks split anywhere (inside a line, between CR and LF) and events come out as soon as the
// blank line that ends them has arrived. Pure; not thread-safe (one parser per stream).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace km::meter {

struct SseEvent {
  std::string type;  // the `event:` field; "message" when the event has none
  std::string data;  // the `data:` lines joined with '\n'
};

class SseParser {
 public:
  // Events (or lines) larger than `max_event_bytes` stop the parser: it sets overflowed() and
  // ignores the rest of the stream (metering bounds its memory; the client still gets it all).
  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes) : max_event_bytes_(max_event_bytes) {}

  // Parses `bytes`, appending every event completed by them to `out`.
  void feed(std::string_view bytes, std::vector<SseEvent>& out);

  bool overflowed() const { return overflowed_; }

  static constexpr size_t kDefaultMaxEventBytes = size_t{4} << 20;

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);

  size_t max_event_bytes_;
  std::string partial_;      // the current line, until its end arrives
  std::string type_, data_;  // the event being assembled
  bool has_data_ = false;
  bool after_cr_ = false;    // the last byte was a CR: a LF right after it ends nothing
  bool at_start_ = true;     // a byte-order mark may open the stream
  bool overflowed_ = false;
};

}  // namespace km::meter
