#include "meter/sse.h"

namespace km::meter {

void SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (overflowed_) return;
  if (at_start_ && !bytes.empty()) {
    // A UTF-8 byte-order mark at the very start is not part of the first line; it may itself
    // arrive split across chunks, so it is matched against what has come so far.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    std::string head = partial_ + std::string(bytes.substr(0, kBom.size()));
    size_t n = 0;
    while (n < head.size() && n < kBom.size() && head[n] == kBom[n]) ++n;
    if (n < head.size() && n < kBom.size()) {
      at_start_ = false;  // not a BOM: what was held back is ordinary text
    } else if (n == kBom.size()) {
      size_t from_bytes = kBom.size() - partial_.size();
      partial_.clear();
      bytes.remove_prefix(from_bytes);
      at_start_ = false;
    } else {
      partial_ = head;  // a prefix of the BOM so far
      return;
    }
  }
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c != '\n' && c != '\r') {
      after_cr_ = false;
      continue;
    }
    if (c == '\n' && after_cr_ && i == start && partial_.empty()) {
      // The LF of a CRLF whose CR ended the previous line.
      after_cr_ = false;
      start = i + 1;
      continue;
    }
    after_cr_ = c == '\r';
    if (partial_.empty()) {
      line(bytes.substr(start, i - start), out);
    } else {
      partial_.append(bytes.substr(start, i - start));
      std::string whole = std::move(partial_);
      partial_.clear();
      line(whole, out);
    }
    if (overflowed_) return;
    start = i + 1;
  }
  if (start < bytes.size()) {
    partial_.append(bytes.substr(start));
    if (partial_.size() + data_.size() > max_event_bytes_) {
      overflowed_ = true;
      partial_.clear();
      data_.clear();
    }
  }
}

void SseParser::line(std::string_view text, std::vector<SseEvent>& out) {
  if (text.empty()) {
    // A blank line dispatches the event; one without data is dropped (and its type reset).
    if (has_data_) out.push_back({type_.empty() ? "message" : std::move(type_), std::move(data_)});
    type_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (text.front() == ':') return;  // a comment (keep-alive)
  std::string_view field = text, value;
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    field = text.substr(0, colon);
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    type_.assign(value);
  } else if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
    if (data_.size() > max_event_bytes_) {
      overflowed_ = true;
      data_.clear();
    }
  }
  // id and retry concern reconnection, not usage; unknown fields are ignored (as specified).
}

}  // namespace km::meter
