// The command section of a push (ReceivePackCommands), built by hand pkt-line by pkt-line: what
// it reads, what it refuses, and that cutting the body anywhere changes nothing.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "github/github.h"

namespace km::github {
namespace {

using State = ReceivePackCommands::State;

const std::string kZero(40, '0');
const std::string kA(40, 'a');
const std::string kB = "0123456789abcdef0123456789abcdef01234567";
const std::string kCaps = " report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5";

std::string first(const std::string& old_oid, const std::string& new_oid, const std::string& ref,
                  const std::string& caps = kCaps) {
  return pktLine(old_oid + " " + new_oid + " " + ref + std::string(1, '\0') + caps);
}
std::string next(const std::string& old_oid, const std::string& new_oid, const std::string& ref) {
  return pktLine(old_oid + " " + new_oid + " " + ref + "\n");
}

ReceivePackCommands feedAll(std::string_view body) {
  ReceivePackCommands c;
  c.feed(body);
  return c;
}

std::string refusal(std::string_view body) {
  auto c = feedAll(body);
  EXPECT_EQ(c.state(), State::kRefused) << body;
  EXPECT_EQ(c.error().rfind("km: push refused: ", 0), 0u) << c.error();
  return c.error();
}

TEST(PktLine, FramesWithFourHexDigitsCountingThemselves) {
  EXPECT_EQ(pktLine(""), "0004");
  EXPECT_EQ(pktLine("a\n"), "0006a\n");
  EXPECT_EQ(pktLine(std::string(0xfff0 - 4, 'x')).substr(0, 4), "fff0");
  EXPECT_EQ(pktLine(std::string(300, 'x')).substr(0, 4), "0130");
}

TEST(ReceivePackCommands, ReadsOneCommandAndItsCapabilities) {
  std::string body = first(kZero, kA, "refs/heads/main") + "0000" + "PACK...";
  ReceivePackCommands c;
  ASSERT_EQ(c.feed(body), State::kDone) << c.error();
  ASSERT_EQ(c.updates().size(), 1u);
  EXPECT_EQ(c.updates()[0].old_oid, kZero);
  EXPECT_EQ(c.updates()[0].new_oid, kA);
  EXPECT_EQ(c.updates()[0].refname, "refs/heads/main");
  EXPECT_TRUE(c.updates()[0].creates());
  EXPECT_FALSE(c.updates()[0].deletes());
  EXPECT_EQ(c.consumed(), body.size() - 7);
  EXPECT_EQ(c.capabilities(), kCaps);
  EXPECT_TRUE(c.hasCapability("side-band-64k"));
  EXPECT_TRUE(c.hasCapability("report-status-v2"));
  EXPECT_TRUE(c.hasCapability("agent"));
  EXPECT_TRUE(c.hasCapability("object-format"));
  EXPECT_FALSE(c.hasCapability("report-status"));
  EXPECT_FALSE(c.hasCapability("side-band"));
  EXPECT_FALSE(c.hasCapability("push-options"));
}

TEST(ReceivePackCommands, ReadsSeveralCommandsWithAndWithoutNewlines) {
  std::string body = first(kA, kB, "refs/heads/main") + next(kZero, kB, "refs/tags/v1") +
                     pktLine(kB + " " + kZero + " refs/heads/old") + "0000";
  auto c = feedAll(body);
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  ASSERT_EQ(c.updates().size(), 3u);
  EXPECT_FALSE(c.updates()[0].creates());
  EXPECT_FALSE(c.updates()[0].deletes());
  EXPECT_EQ(c.updates()[1].refname, "refs/tags/v1");
  EXPECT_TRUE(c.updates()[1].creates());
  EXPECT_EQ(c.updates()[2].refname, "refs/heads/old");
  EXPECT_TRUE(c.updates()[2].deletes());
  EXPECT_EQ(c.consumed(), body.size());
}

TEST(ReceivePackCommands, FirstCommandMayEndInNewlineAndHaveNoCapabilities) {
  auto c = feedAll(pktLine(kZero + " " + kA + " refs/heads/main\n") + "0000");
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  EXPECT_EQ(c.updates()[0].refname, "refs/heads/main");
  EXPECT_EQ(c.capabilities(), "");
  auto d = feedAll(first(kZero, kA, "refs/heads/main", " report-status\n") + "0000");
  ASSERT_EQ(d.state(), State::kDone) << d.error();
  EXPECT_EQ(d.capabilities(), " report-status");
}

TEST(ReceivePackCommands, ReadsShallowLinesBeforeTheCommands) {
  std::string body = pktLine("shallow " + kB + "\n") + pktLine("shallow " + kA) + first(kA, kB, "refs/heads/x") + "0000";
  auto c = feedAll(body);
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  ASSERT_EQ(c.updates().size(), 1u);
  EXPECT_EQ(c.consumed(), body.size());
}

TEST(ReceivePackCommands, ReadsSha256ObjectIds) {
  std::string z(64, '0'), a(64, 'a'), b(64, 'b');
  auto c = feedAll(first(z, a, "refs/heads/main", " report-status object-format=sha256") + next(a, b, "refs/heads/x") +
                   "0000");
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  EXPECT_TRUE(c.updates()[0].creates());
  EXPECT_EQ(c.updates()[1].new_oid, b);
}

TEST(ReceivePackCommands, StopsAtTheFlushAndLeavesTheRest) {
  std::string section = first(kZero, kA, "refs/heads/main") + "0000";
  std::string rest = pktLine("ci.skip") + "0000" + std::string("PACK\0\0\0\2", 8);
  ReceivePackCommands c;
  EXPECT_EQ(c.feed(section + rest), State::kDone);
  EXPECT_EQ(c.consumed(), section.size());
  // Later chunks are not read at all, whatever they hold.
  EXPECT_EQ(c.feed("zzzz garbage"), State::kDone);
  EXPECT_EQ(c.consumed(), section.size());
  EXPECT_EQ(c.updates().size(), 1u);
}

TEST(ReceivePackCommands, NeedsMoreUntilTheFlush) {
  std::string body = first(kZero, kA, "refs/heads/main") + next(kA, kB, "refs/heads/x");
  ReceivePackCommands c;
  EXPECT_EQ(c.feed(body), State::kNeedMore);
  EXPECT_EQ(c.feed("000"), State::kNeedMore);
  EXPECT_EQ(c.feed("0"), State::kDone);
  EXPECT_EQ(c.updates().size(), 2u);
  EXPECT_EQ(c.feed(""), State::kDone);
  ReceivePackCommands empty;
  EXPECT_EQ(empty.feed(""), State::kNeedMore);
}

// Every way to cut the body in two, and byte by byte, reads the same as the whole.
void expectSameWhateverTheCuts(const std::string& body) {
  auto whole = feedAll(body);
  ASSERT_NE(whole.state(), State::kNeedMore) << body;
  auto same = [&](const ReceivePackCommands& c, const std::string& how) {
    ASSERT_EQ(c.state(), whole.state()) << how;
    EXPECT_EQ(c.error(), whole.error()) << how;
    EXPECT_EQ(c.capabilities(), whole.capabilities()) << how;
    if (whole.state() != State::kDone) return;
    EXPECT_EQ(c.consumed(), whole.consumed()) << how;
    ASSERT_EQ(c.updates().size(), whole.updates().size()) << how;
    for (size_t i = 0; i < c.updates().size(); ++i) {
      EXPECT_EQ(c.updates()[i].refname, whole.updates()[i].refname) << how;
      EXPECT_EQ(c.updates()[i].old_oid, whole.updates()[i].old_oid) << how;
      EXPECT_EQ(c.updates()[i].new_oid, whole.updates()[i].new_oid) << how;
    }
  };
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    ReceivePackCommands c;
    c.feed(std::string_view(body).substr(0, cut));
    c.feed(std::string_view(body).substr(cut));
    same(c, "cut at " + std::to_string(cut));
  }
  ReceivePackCommands bytes;
  for (char ch : body) bytes.feed(std::string_view(&ch, 1));
  same(bytes, "byte by byte");
}

TEST(ReceivePackCommands, ResultDoesNotDependOnHowTheBodyIsCut) {
  expectSameWhateverTheCuts(pktLine("shallow " + kB) + first(kZero, kA, "refs/heads/main") +
                            next(kA, kB, "refs/tags/v1") + "0000" + pktLine("opt") + "0000PACK");
  expectSameWhateverTheCuts(first(kZero, kA, "refs/heads/main") + next(kA, kB, "refs/heads/a..b") + "0000");
  expectSameWhateverTheCuts(pktLine("push-cert" + std::string(1, '\0') + " side-band-64k") + "0000");
  expectSameWhateverTheCuts(first(kZero, kA, "refs/heads/main") + "00x1");
}

TEST(ReceivePackCommands, RefusesSignedPushes) {
  std::string why = refusal(pktLine("push-cert" + std::string(1, '\0') + " report-status side-band-64k\n") +
                            pktLine("certificate version 0.1\n"));
  EXPECT_NE(why.find("signed pushes"), std::string::npos);
  EXPECT_NE(why.find("--signed"), std::string::npos);
  auto c = feedAll(pktLine("push-cert" + std::string(1, '\0') + " report-status side-band-64k\n"));
  EXPECT_EQ(c.capabilities(), " report-status side-band-64k");
  refusal(pktLine("push-cert\n"));
}

TEST(ReceivePackCommands, RefusesBadLengths) {
  EXPECT_NE(refusal("00g1").find("pkt-line length"), std::string::npos);
  refusal("xxxx");
  refusal(" 0a0");
  refusal("-001");
  for (auto special : {"0001", "0002", "0003", "0004"}) {
    EXPECT_NE(refusal(first(kZero, kA, "refs/heads/main") + special).find(special), std::string::npos) << special;
    refusal(special);
  }
  EXPECT_NE(refusal("fff1").find("65520"), std::string::npos);
  refusal("ffff");
  // 65520 itself is allowed (and here the payload is a malformed command).
  std::string longest = "fff0" + std::string(0xfff0 - 4, 'x');
  EXPECT_NE(refusal(longest).find("malformed"), std::string::npos);
  // Uppercase hex in the length is what git's reader takes too.
  auto upper = first(kZero, kA, "refs/heads/main");
  std::string payload = upper.substr(4);
  std::string len = upper.substr(0, 4);
  for (auto& ch : len) ch = static_cast<char>(toupper(ch));
  EXPECT_EQ(feedAll(len + payload + "0000").state(), State::kDone);
}

TEST(ReceivePackCommands, AnEmptyCommandListIsGitsProbeAndUpdatesNothing) {
  // git POSTs exactly "0000" before streaming a push larger than http.postBuffer (seen with
  // git 2.39 and http.postBuffer=1024); refusing it would break every large push.
  auto probe = feedAll("0000");
  ASSERT_EQ(probe.state(), State::kDone) << probe.error();
  EXPECT_TRUE(probe.updates().empty());
  EXPECT_EQ(probe.consumed(), 4u);
  EXPECT_EQ(probe.capabilities(), "");
  auto shallow_only = feedAll(pktLine("shallow " + kA) + "0000");
  EXPECT_EQ(shallow_only.state(), State::kDone);
  EXPECT_TRUE(shallow_only.updates().empty());
}

TEST(ReceivePackCommands, RefusesMalformedCommands) {
  for (const std::string& bad : std::vector<std::string>{
           kZero + " " + kA,                                       // no ref
           kZero + kA + " refs/heads/x",                           // one space missing
           kZero + "  " + kA + " refs/heads/x",                    // two spaces
           kZero + " " + kA + "  refs/heads/x",                    // ref starts with a space
           kZero.substr(1) + " " + kA + " refs/heads/x",           // 39 digits
           kZero + "0 " + kA + "0 refs/heads/x",                   // 41 digits
           kZero + " " + std::string(40, 'A') + " refs/heads/x",   // uppercase
           kZero + " " + std::string(40, 'g') + " refs/heads/x",   // not hex
           kZero + " " + std::string(64, 'a') + " refs/heads/x",   // mixed lengths
           std::string(64, '0') + " " + kA + " refs/heads/x",      // mixed lengths
           std::string(),                                          // empty payload
           std::string("shallow"),                                 // bare keyword
       }) {
    refusal(pktLine(bad + std::string(1, '\0') + " report-status") + "0000");
  }
  EXPECT_NE(refusal(pktLine("garbage") + "0000").find("malformed ref update command 1"), std::string::npos);
}

TEST(ReceivePackCommands, RefusesOidsOfTheWrongLengthForTheObjectFormat) {
  refusal(first(kZero, kA, "refs/heads/main", " object-format=sha256") + "0000");
  refusal(first(std::string(64, '0'), std::string(64, 'a'), "refs/heads/main", " object-format=sha1") + "0000");
  EXPECT_NE(refusal(first(kZero, kA, "refs/heads/main", " object-format=md5") + "0000").find("object-format"),
            std::string::npos);
  refusal(first(kZero, kA, "refs/heads/main") + next(std::string(64, '0'), std::string(64, 'a'), "refs/heads/x") + "0000");
  refusal(pktLine("shallow " + std::string(64, 'a')) + first(kZero, kA, "refs/heads/main") + "0000");
}

TEST(ReceivePackCommands, RefusesBadShallowLines) {
  refusal(pktLine("shallow " + kA.substr(1)) + first(kZero, kA, "refs/heads/main") + "0000");
  refusal(pktLine("shallow " + std::string(40, 'G')) + first(kZero, kA, "refs/heads/main") + "0000");
  // git's client sends them first; one between commands is not what km lets through.
  EXPECT_NE(refusal(first(kZero, kA, "refs/heads/main") + pktLine("shallow " + kB) + "0000").find("shallow"),
            std::string::npos);
}

TEST(ReceivePackCommands, RefusesANulAfterTheFirstCommand) {
  std::string with_nul = kA + " " + kB + " refs/heads/x" + std::string(1, '\0') + " report-status";
  EXPECT_NE(refusal(first(kZero, kA, "refs/heads/main") + pktLine(with_nul) + "0000").find("NUL"), std::string::npos);
}

TEST(ReceivePackCommands, RefusesInvalidRefNames) {
  for (std::string bad : {"main", "HEAD", "refs/heads/a..b", "refs/heads/x.lock", "refs/heads/a b", "refs/heads/a~1",
                          "refs/heads/a^", "refs/heads/a:b", "refs/heads/a?", "refs/heads/a*", "refs/heads/a[",
                          "refs/heads/a\\b", "refs/heads/", "refs/heads//x", "refs/heads/@{u}", "refs/heads/.x",
                          "refs/heads/x.", "refs/heads/a\x01", "refs/heads/a\x7f"}) {
    std::string why = refusal(first(kZero, kA, bad) + "0000");
    EXPECT_NE(why.find("not a valid ref name"), std::string::npos) << why;
    refusal(first(kZero, kA, "refs/heads/ok") + next(kZero, kA, bad) + "0000");
  }
  // A trailing CR is not a newline to git: it stays in the name, which it makes invalid.
  refusal(pktLine(kZero + " " + kA + " refs/heads/main\r\n") + "0000");
}

TEST(ReceivePackCommands, RefusesMoreThanTenThousandCommands) {
  std::string body = first(kZero, kA, "refs/heads/b0");
  for (size_t i = 1; i < ReceivePackCommands::kMaxCommands; ++i) body += next(kZero, kA, "refs/heads/b" + std::to_string(i));
  auto ok = feedAll(body + "0000");
  ASSERT_EQ(ok.state(), State::kDone) << ok.error();
  EXPECT_EQ(ok.updates().size(), ReceivePackCommands::kMaxCommands);
  std::string why = refusal(body + next(kZero, kA, "refs/heads/one-too-many") + "0000");
  EXPECT_NE(why.find("10000"), std::string::npos);
}

TEST(ReceivePackCommands, RefusesACommandSectionOver4MiB) {
  // 10000 commands with long names make about 6 MiB.
  std::string name = "refs/heads/" + std::string(500, 'n');
  std::string body = first(kZero, kA, name + "0");
  size_t i = 1;
  while (body.size() < (4u << 20) + 100000) body += next(kZero, kA, name + std::to_string(i++));
  std::string why = refusal(body + "0000");
  EXPECT_NE(why.find("4 MiB"), std::string::npos) << why;
}

TEST(ReceivePackCommands, KeepsTheFirstRefusal) {
  ReceivePackCommands c;
  EXPECT_EQ(c.feed("0001"), State::kRefused);
  std::string why = c.error();
  EXPECT_EQ(c.feed(first(kZero, kA, "refs/heads/main") + "0000"), State::kRefused);
  EXPECT_EQ(c.error(), why);
  EXPECT_TRUE(c.updates().empty());
}

}  // namespace
}  // namespace km::github
