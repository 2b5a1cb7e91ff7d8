// The two stream framings metering reads on a tee of a response: server-sent events and AWS
// event-stream. Chunks may split anywhere, so every test also feeds its stream split at every
// byte boundary and one byte at a time, and expects the same events.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "meter/event_stream.h"
#include "meter/sse.h"
#include "unit/meter/frames.h"

namespace km::meter {
namespace {

std::vector<SseEvent> sse(const std::vector<std::string_view>& chunks, SseParser* parser = nullptr) {
  SseParser own;
  SseParser& p = parser ? *parser : own;
  std::vector<SseEvent> out;
  for (auto c : chunks) p.feed(c, out);
  return out;
}

std::string dump(const std::vector<SseEvent>& events) {
  std::string s;
  for (const auto& e : events) s += "[" + e.type + "|" + e.data + "]";
  return s;
}

// The same events whatever the chunking: split in two at every offset, and byte by byte.
void expectSplitsAgree(std::string_view stream, const std::string& expected) {
  EXPECT_EQ(dump(sse({stream})), expected);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(dump(sse({stream.substr(0, cut), stream.substr(cut)})), expected) << "split at " << cut;
  }
  SseParser p;
  std::vector<SseEvent> out;
  for (char c : stream) p.feed(std::string_view(&c, 1), out);
  EXPECT_EQ(dump(out), expected) << "byte by byte";
}

TEST(Sse, EventsWithTypesDataAndComments) {
  expectSplitsAgree(
      ": keep-alive\n"
      "event: message_start\n"
      "data: {\"a\":1}\n"
      "\n"
      "data: line one\n"
      "data:line two\n"
      "id: 7\n"
      "retry: 100\n"
      "\n"
      "event: ping\n"
      "\n",  // no data: not dispatched
      "[message_start|{\"a\":1}][message|line one\nline two]");
}

TEST(Sse, AnyLineEndingAndAByteOrderMark) {
  expectSplitsAgree("\xEF\xBB\xBF" "event: x\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n", "[x|1][message|2][message|3]");
  // A CR at a chunk's end and its LF at the next one's start end one line, not two.
  EXPECT_EQ(dump(sse({"data: a\r", "\n", "\r\n"})), "[message|a]");
  // Text that only starts like a byte-order mark is kept.
  EXPECT_EQ(dump(sse({"\xEF", "data: b\n\n"})), "");  // "\xEFdata" is not a known field
  EXPECT_EQ(dump(sse({"\xEF\xBB", "\xBF", "data: c\n\n"})), "[message|c]");
}

TEST(Sse, AnEventLargerThanTheLimitStopsTheParser) {
  SseParser p(16);
  auto out = sse({"data: 0123456789\n", "data: 0123456789\n\n", "data: after\n\n"}, &p);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(p.overflowed());
  SseParser q(16);
  out = sse({"data: 01234567890123456789"}, &q);  // an unfinished line counts too
  EXPECT_TRUE(q.overflowed());
}

using testing::be32;
using testing::frame;

std::string dump(const std::vector<EventStreamMessage>& ms) {
  std::string s;
  for (const auto& m : ms) s += "[" + m.message_type + "|" + m.event_type + "|" + m.payload + "]";
  return s;
}

TEST(EventStream, Crc32IsZlibs) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("6789", crc32("12345")), 0xCBF43926u) << "continues across pieces";
}

TEST(EventStream, MessagesAtEveryChunking) {
  // Other header types (int, bool, bytes, uuid, timestamp) are skipped correctly.
  std::string odd;
  odd += std::string("\x03num\x04\x00\x00\x00\x2a", 9);
  odd += std::string("\x02ok\x00", 4);
  odd += std::string("\x03raw\x06\x00\x02hi", 9);
  odd += std::string("\x02id\x09", 4) + std::string(16, 'u');
  odd += std::string("\x02ts\x08", 4) + std::string(8, 't');
  std::string stream = frame("chunk", "{\"bytes\":\"e30=\"}") + frame("metadata", "{}", "event", odd) +
                       frame("throttlingException", "{\"message\":\"slow down\"}", "exception");
  const std::string expected =
      "[event|chunk|{\"bytes\":\"e30=\"}][event|metadata|{}][exception|throttlingException|{\"message\":\"slow down\"}]";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EventStreamParser p;
    std::vector<EventStreamMessage> out;
    p.feed(std::string_view(stream).substr(0, cut), out);
    p.feed(std::string_view(stream).substr(cut), out);
    EXPECT_EQ(dump(out), expected) << "split at " << cut;
    EXPECT_TRUE(p.error().empty());
    EXPECT_EQ(p.pending(), 0u);
  }
  EventStreamParser p;
  std::vector<EventStreamMessage> out;
  for (char c : stream) p.feed(std::string_view(&c, 1), out);
  EXPECT_EQ(dump(out), expected) << "byte by byte";
}

TEST(EventStream, CorruptionStopsTheStream) {
  std::string good = frame("chunk", "{}");
  {
    std::string bad = good;
    bad[8] ^= 1;  // the prelude's CRC
    EventStreamParser p;
    std::vector<EventStreamMessage> out;
    p.feed(bad + good, out);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(p.error(), "event-stream prelude CRC mismatch");
    p.feed(good, out);
    EXPECT_TRUE(out.empty()) << "nothing is read after a corruption";
  }
  {
    std::string bad = good;
    bad[bad.size() - 6] ^= 1;  // the payload
    EventStreamParser p;
    std::vector<EventStreamMessage> out;
    p.feed(good + bad, out);
    EXPECT_EQ(out.size(), 1u) << "messages before the corrupt one count";
    EXPECT_EQ(p.error(), "event-stream message CRC mismatch");
  }
  {
    std::string huge = be32(EventStreamParser::kMaxMessageBytes + 1) + be32(0);
    huge += be32(crc32(huge));
    EventStreamParser p;
    std::vector<EventStreamMessage> out;
    p.feed(huge, out);
    EXPECT_NE(p.error().find("impossible"), std::string::npos) << "never buffers 16 MiB on a length's word";
  }
  {
    EventStreamParser p;
    std::vector<EventStreamMessage> out;
    p.feed(std::string_view(good).substr(0, good.size() - 3), out);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(p.pending(), good.size() - 3) << "a cut stream holds back its unfinished message";
  }
}

}  // namespace
}  // namespace km::meter
