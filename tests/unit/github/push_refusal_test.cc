// The receive-pack result km answers a refused push with. The shapes here are the ones a real
// git 2.39 printed as "remote: …" and "! [remote rejected] … (reason)" (see github.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "github/github.h"

namespace km::github {
namespace {

using namespace std::string_literals;

// The pkt-lines of `body` (a flush as "0000"), checking the framing as it goes.
std::vector<std::string> pkts(std::string_view body) {
  std::vector<std::string> out;
  while (!body.empty()) {
    EXPECT_GE(body.size(), 4u);
    size_t len = std::stoul(std::string(body.substr(0, 4)), nullptr, 16);
    if (len == 0) {
      out.push_back("0000");
      body.remove_prefix(4);
      continue;
    }
    EXPECT_GE(len, 5u);
    EXPECT_LE(len, body.size());
    out.emplace_back(body.substr(4, len - 4));
    body.remove_prefix(len);
  }
  return out;
}

TEST(RefusedPushResult, SideBandCarriesTheMessageAndTheReport) {
  std::vector<RefRefusal> refs = {{"refs/heads/main", "km: refs/heads/main is not in allowedRefs"},
                                  {"refs/tags/v1", "km: tags need a refs/tags/... entry"}};
  std::string body = refusedPushResult(" report-status-v2 side-band-64k quiet agent=git/2.39.5",
                                       "km: push refused by the sandbox's profile\nsee spec.sourceAccess.github", refs);
  auto p = pkts(body);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0], "\2km: push refused by the sandbox's profile\n");
  EXPECT_EQ(p[1], "\2see spec.sourceAccess.github\n");
  EXPECT_EQ(p[2], "\1" + pktLine("unpack ok\n") + pktLine("ng refs/heads/main km: refs/heads/main is not in allowedRefs\n") +
                      pktLine("ng refs/tags/v1 km: tags need a refs/tags/... entry\n") + "0000");
  EXPECT_EQ(p[3], "0000");
}

TEST(RefusedPushResult, ExactBytesForOneRef) {
  RefRefusal ref{"refs/heads/x", "no"};
  std::string body = refusedPushResult(" report-status side-band-64k", "why", {&ref, 1});
  EXPECT_EQ(body, "0009\2why\n"s + "002e\1" + "000eunpack ok\n" + "0017ng refs/heads/x no\n" + "0000" + "0000");
}

TEST(RefusedPushResult, WithoutSideBandOnlyTheReport) {
  RefRefusal ref{"refs/heads/x", "not allowed"};
  std::string body = refusedPushResult(" report-status", "message git cannot show", {&ref, 1});
  EXPECT_EQ(body, pktLine("unpack ok\n") + pktLine("ng refs/heads/x not allowed\n") + "0000");
}

TEST(RefusedPushResult, NoRefsReportsAnUnpackFailureWithTheFirstLine) {
  std::string body = refusedPushResult(" report-status-v2 side-band-64k", "km: push refused: bad body\ndetail", {});
  auto p = pkts(body);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[2], "\1" + pktLine("unpack km: push refused: bad body\n") + "0000");
  EXPECT_EQ(refusedPushResult(" report-status", "oops", {}), pktLine("unpack oops\n") + "0000");
}

TEST(RefusedPushResult, WithoutReportStatusOnlyTheMessage) {
  EXPECT_FALSE(wantsReportStatus(" side-band-64k quiet"));
  EXPECT_EQ(refusedPushResult(" side-band-64k", "m", {}), pktLine("\2m\n") + "0000");
  EXPECT_EQ(refusedPushResult("", "m", {}), "");
}

TEST(RefusedPushResult, OldSideBandUsesSmallPackets) {
  std::string long_message(2500, 'm');
  std::string body = refusedPushResult(" report-status side-band", long_message, {});
  auto p = pkts(body);
  size_t message_bytes = 0;
  for (const auto& pkt : p) {
    EXPECT_LE(pkt.size() + 4, 1000u);
    if (pkt[0] == '\2') message_bytes += pkt.size() - 1;
  }
  EXPECT_EQ(message_bytes, long_message.size() + 1);
  EXPECT_EQ(p.back(), "0000");
}

TEST(RefusedPushResult, ControlBytesCannotBreakTheFraming) {
  RefRefusal ref{"refs/heads/x", "line one\nng refs/heads/y injected\r\x1b[31m"};
  std::string body = refusedPushResult(" report-status", "a\x1b]0;title\x07", {&ref, 1});
  auto p = pkts(body);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[1], "ng refs/heads/x line one ng refs/heads/y injected  [31m\n");
}

TEST(WantsReportStatus, EitherVersion) {
  EXPECT_TRUE(wantsReportStatus(" report-status"));
  EXPECT_TRUE(wantsReportStatus(" report-status-v2 side-band-64k"));
  EXPECT_TRUE(wantsReportStatus("side-band report-status"));
  EXPECT_FALSE(wantsReportStatus(" report-statusx"));
  EXPECT_FALSE(wantsReportStatus(""));
}

TEST(HasCapability, MatchesWholeNamesAndNameEqualsValue) {
  std::string caps = " report-status-v2 side-band-64k object-format=sha1 agent=git/2.39.5";
  EXPECT_TRUE(hasCapability(caps, "side-band-64k"));
  EXPECT_FALSE(hasCapability(caps, "side-band"));
  EXPECT_TRUE(hasCapability(caps, "object-format=sha1"));
  EXPECT_TRUE(hasCapability(caps, "object-format"));
  EXPECT_FALSE(hasCapability(caps, "object"));
  EXPECT_FALSE(hasCapability(caps, "report-status"));
}

}  // namespace
}  // namespace km::github
