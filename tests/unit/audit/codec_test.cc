// The audit codec: every record reads back as written; the line format is the network log's
// (keys and order that km logs --json users and older readers see); anything else fails
// with a reason instead of half a record.
#include <gtest/gtest.h>

#include <string>

#include "audit/audit.h"

namespace km::audit {
namespace {

// A time the format keeps exactly (microseconds).
WallTime at(int64_t micros) { return WallTime(std::chrono::microseconds(micros)); }

DnsRecord dnsRecord() {
  DnsRecord r;
  r.time = at(1767323045678901);  // 2026-01-02T03:04:05.678901Z
  r.client = "10.213.0.2:41234";
  r.transport = "udp";
  r.name = "api.example.com";
  r.type = "AAAA";
  r.decision = Decision::kAllow;
  r.reason = ".example.com";
  r.rcode = "NOERROR";
  r.cached = true;
  r.addresses = {"2001:db8::1", "2001:db8::2"};
  r.withheld = {"127.0.0.1 (loopback)"};
  return r;
}

ConnectRecord connectRecord() {
  ConnectRecord r;
  r.time = at(1767323045000001);
  r.pid = 4242;
  r.comm = "curl";
  r.uid = 1000;
  r.dest = "203.0.113.10";
  r.port = 443;
  r.protocol = "tcp";
  r.name = "api.example.com";
  r.decision = Decision::kRedirect;
  r.reason = "sent to the transparent proxy (a host it must see)";
  return r;
}

void expectSame(const DnsRecord& a, const DnsRecord& b) {
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.client, b.client);
  EXPECT_EQ(a.transport, b.transport);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.decision, b.decision);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.rcode, b.rcode);
  EXPECT_EQ(a.cached, b.cached);
  EXPECT_EQ(a.addresses, b.addresses);
  EXPECT_EQ(a.withheld, b.withheld);
}

void expectSame(const ConnectRecord& a, const ConnectRecord& b) {
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.comm, b.comm);
  EXPECT_EQ(a.uid, b.uid);
  EXPECT_EQ(a.dest, b.dest);
  EXPECT_EQ(a.port, b.port);
  EXPECT_EQ(a.protocol, b.protocol);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.decision, b.decision);
  EXPECT_EQ(a.reason, b.reason);
}

template <typename R>
R roundTrip(const R& r) {
  std::string line = encode(r);
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  auto back = decode(line);
  EXPECT_TRUE(back) << back.error().message() << "\n" << line;
  if (!back) return R{};
  EXPECT_TRUE(std::holds_alternative<R>(*back));
  return std::get<R>(*back);
}

TEST(AuditCodecTest, ADnsRecordReadsBackAsWritten) {
  expectSame(roundTrip(dnsRecord()), dnsRecord());
  DnsRecord empty;  // nothing withheld, no addresses, a refusal
  empty.time = at(0);
  expectSame(roundTrip(empty), empty);
}

TEST(AuditCodecTest, AConnectRecordReadsBackAsWritten) {
  expectSame(roundTrip(connectRecord()), connectRecord());
  ConnectRecord nft;  // what nftables logs: no pid, comm or uid
  nft.time = at(1);
  nft.dest = "2001:db8::7";
  nft.port = 65535;
  nft.decision = Decision::kDeny;
  expectSame(roundTrip(nft), nft);
}

TEST(AuditCodecTest, AnHttpRecordReadsBackAsWrittenInItsLineFormat) {
  HttpRecord r;
  r.time = at(1767323045000002);
  r.client = "10.213.0.2:41234";
  r.listener = "explicit";
  r.method = "CONNECT";
  r.host = "api.example.com";
  r.port = 443;
  r.path = "";
  r.dest = "203.0.113.10:443";
  r.mode = "tunnel";
  r.status = 0;
  r.bytes_up = 5000000000;  // past 32 bits
  r.bytes_down = 12;
  r.duration_us = 1500;
  r.decision = Decision::kAllow;
  r.reason = ".example.com";
  std::string line = encode(r);
  EXPECT_EQ(line,
            R"({"time":"2026-01-02T03:04:05.000002Z","layer":"http","client":"10.213.0.2:41234","listener":"explicit",)"
            R"("method":"CONNECT","host":"api.example.com","port":443,"path":"","dest":"203.0.113.10:443","mode":"tunnel",)"
            R"("status":0,"bytesUp":5000000000,"bytesDown":12,"durationUs":1500,"decision":"allow","reason":".example.com"})"
            "\n");
  auto back = decode(line);
  ASSERT_TRUE(back) << back.error().message();
  const auto& h = std::get<HttpRecord>(*back);
  EXPECT_EQ(h.time, r.time);
  EXPECT_EQ(h.client, r.client);
  EXPECT_EQ(h.listener, r.listener);
  EXPECT_EQ(h.method, r.method);
  EXPECT_EQ(h.host, r.host);
  EXPECT_EQ(h.port, r.port);
  EXPECT_EQ(h.dest, r.dest);
  EXPECT_EQ(h.mode, r.mode);
  EXPECT_EQ(h.bytes_up, r.bytes_up);
  EXPECT_EQ(h.bytes_down, r.bytes_down);
  EXPECT_EQ(h.duration_us, r.duration_us);
  EXPECT_EQ(h.decision, r.decision);
  EXPECT_EQ(h.reason, r.reason);
}

TEST(AuditCodecTest, TheLineIsTheNetworkLogsFormat) {
  EXPECT_EQ(encode(dnsRecord()),
            R"x({"time":"2026-01-02T03:04:05.678901Z","layer":"dns","client":"10.213.0.2:41234","transport":"udp",)x"
            R"x("name":"api.example.com","type":"AAAA","decision":"allow","reason":".example.com","rcode":"NOERROR",)x"
            R"x("cached":true,"addresses":["2001:db8::1","2001:db8::2"],"withheld":["127.0.0.1 (loopback)"]})x"
            "\n");
  ConnectRecord c = connectRecord();
  c.uid.reset();
  EXPECT_EQ(encode(c),
            R"x({"time":"2026-01-02T03:04:05.000001Z","layer":"connect","pid":4242,"comm":"curl",)x"
            R"x("dest":"203.0.113.10","port":443,"protocol":"tcp","name":"api.example.com","decision":"redirect",)x"
            R"x("reason":"sent to the transparent proxy (a host it must see)"})x"
            "\n");
}

TEST(AuditCodecTest, AnyBytesAreWrittenAsAsciiAndReadBackTheSame) {
  ConnectRecord r = connectRecord();
  r.comm = std::string("a\"b\\c\n\t\x01\x7f\xe9\xff\x80 z", 14);
  r.name = "caf\xc3\xa9";  // UTF-8 bytes are bytes too
  std::string line = encode(r);
  for (char ch : line) ASSERT_LT(static_cast<unsigned char>(ch), 0x80) << line;
  EXPECT_NE(line.find(R"(\u00e9\u00ff\u0080)"), std::string::npos) << line;
  expectSame(roundTrip(r), r);
}

TEST(AuditCodecTest, ALineOfAnOlderKmWithFewerFieldsIsRead) {
  auto r = decode(R"({"time":"2026-01-02T03:04:05Z","layer":"connect","dest":"203.0.113.1","decision":"deny"})");
  ASSERT_TRUE(r) << r.error().message();
  const auto& c = std::get<ConnectRecord>(*r);
  EXPECT_EQ(c.time, at(1767323045000000));
  EXPECT_EQ(c.dest, "203.0.113.1");
  EXPECT_EQ(c.pid, 0u);
  EXPECT_FALSE(c.uid);
}

TEST(AuditCodecTest, MalformedLinesFailWithAReason) {
  const char* bad[] = {
      "",
      "not json",
      "[1,2]",
      R"({"time":"2026-01-02T03:04:05Z","decision":"allow"})",                          // no layer
      R"({"time":"2026-01-02T03:04:05Z","layer":"tls","decision":"allow"})",           // unknown layer
      R"({"time":"2026-01-02T03:04:05Z","layer":7,"decision":"allow"})",
      R"({"layer":"dns","decision":"allow"})",                                          // no time
      R"({"time":"yesterday","layer":"dns","decision":"allow"})",
      R"({"time":"2026-13-02T03:04:05Z","layer":"dns","decision":"allow"})",
      R"({"time":"2026-01-02T03:04:05.Z","layer":"dns","decision":"allow"})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"dns"})",                               // no decision
      R"({"time":"2026-01-02T03:04:05Z","layer":"dns","decision":"maybe"})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"dns","decision":"allow","cached":"yes"})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"dns","decision":"allow","addresses":"1.2.3.4"})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"dns","decision":"allow","addresses":[1]})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"dns","decision":"allow","name":["x"]})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"connect","decision":"deny","port":65536})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"connect","decision":"deny","pid":-1})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"connect","decision":"deny","pid":1.5})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"connect","decision":"deny","uid":"0"})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"http","decision":"allow","status":70000})",
      R"({"time":"2026-01-02T03:04:05Z","layer":"http","decision":"allow","bytesUp":-1})",
      "{\"time\":\"2026-01-02T03:04:05Z\",\"layer\":\"dns\",\"decision\":\"allow\",\"name\":\"\xff\"}",
  };
  for (const char* line : bad) {
    auto r = decode(line);
    EXPECT_FALSE(r) << "decoded: " << line;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << line;
      EXPECT_NE(r.error().message().find("not an audit record"), std::string::npos) << r.error().message();
    }
  }
}

TEST(AuditCodecTest, TimesAreUtcWithMicroseconds) {
  EXPECT_EQ(formatTime(at(0)), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(formatTime(at(1767323045678901)), "2026-01-02T03:04:05.678901Z");
}

}  // namespace
}  // namespace km::audit

namespace km::audit {
namespace {

TEST(AuditCodecTest, ExecExitAndGapRecordsReadBackInTheCommandLogsFormat) {
  ExecRecord e;
  e.time = WallTime(std::chrono::microseconds(1767323045000002));
  e.pid = 12;
  e.ppid = 1;
  e.host_pid = 91234;
  e.uid = 1000;
  e.path = "/usr/bin/env";
  e.exe = "/usr/bin/env";
  e.argv = {"env", "A=\x01\xff", "with space"};
  e.cwd = "/home/sandbox/w\xc3\xa9";
  e.truncated = true;
  std::string line = encode(e);
  EXPECT_EQ(line,
            R"({"time":"2026-01-02T03:04:05.000002Z","layer":"exec","pid":12,"ppid":1,"hostPid":91234,"uid":1000,)"
            R"("path":"/usr/bin/env","exe":"/usr/bin/env","argv":["env","A=\u0001\u00ff","with space"],)"
            R"("cwd":"/home/sandbox/w\u00c3\u00a9",)"
            R"("truncated":true})"
            "\n");
  auto back = decode(line);
  ASSERT_TRUE(back) << back.error().message();
  const auto& b = std::get<ExecRecord>(*back);
  EXPECT_EQ(b.argv, e.argv);
  EXPECT_EQ(b.cwd, e.cwd);
  EXPECT_EQ(b.exe, e.exe);
  EXPECT_EQ(b.host_pid, e.host_pid);
  EXPECT_TRUE(b.truncated);
  EXPECT_EQ(layerName(*back), "exec");

  ExitRecord x;
  x.time = e.time;
  x.pid = 12;
  x.host_pid = 91234;
  x.signal = 9;
  x.duration_us = 1500;
  line = encode(x);
  EXPECT_EQ(line, R"({"time":"2026-01-02T03:04:05.000002Z","layer":"exit","pid":12,"hostPid":91234,"signal":9,)"
                  R"("core":false,"durationUs":1500})"
                  "\n");
  auto xb = decode(line);
  ASSERT_TRUE(xb);
  EXPECT_EQ(std::get<ExitRecord>(*xb).signal, 9u);
  EXPECT_FALSE(std::get<ExitRecord>(*xb).status);

  GapRecord g;
  g.time = e.time;
  g.source = "exec";
  g.count = 17;
  auto gb = decode(encode(g));
  ASSERT_TRUE(gb);
  EXPECT_EQ(std::get<GapRecord>(*gb).count, 17u);
  EXPECT_EQ(recordTime(*gb), g.time);
  EXPECT_FALSE(decode(R"({"time":"2026-01-02T03:04:05Z","layer":"exec","argv":"ls"})"));
}

}  // namespace
}  // namespace km::audit
