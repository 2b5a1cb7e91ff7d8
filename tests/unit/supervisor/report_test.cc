// The supervisor's report: facts and errors survive the trip, the error's code included
// (a user's mistake found by the supervisor still exits 2); garbage is reported, not trusted.
#include "supervisor/report.h"

#include <gtest/gtest.h>

namespace km::supervisor {
namespace {

TEST(ReportTest, ReadyFactsRoundTrip) {
  Report r;
  r.supervisor_pid = 4242;
  r.supervisor_start = 123456789012ULL;
  r.init_pid = 4243;
  r.init_start = 123456789013ULL;
  std::string line = encodeReport(Result<Report>(r));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = decodeReport(line + "\n", "supervisor.log");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->supervisor_pid, 4242);
  EXPECT_EQ(back->supervisor_start, 123456789012ULL);
  EXPECT_EQ(back->init_pid, 4243);
  EXPECT_EQ(back->init_start, 123456789013ULL);
  EXPECT_EQ(back->state, "");
}

TEST(ReportTest, StateAndPlainOk) {
  Report r;
  r.state = "paused";
  auto back = decodeReport(encodeReport(Result<Report>(r)), "x");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, "paused");
  EXPECT_TRUE(decodeReport(encodeReport(ok()), "x"));
}

TEST(ReportTest, ErrorsKeepCodeAndMultilineMessage) {
  for (ErrorCode c : {ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kPermissionDenied,
                      ErrorCode::kUnavailable, ErrorCode::kBudgetExceeded, ErrorCode::kInternal}) {
    std::string msg = "init command 1 failed\n--- last lines ---\n\"quoted\" \x1b[31m";
    std::string line = encodeReport(Status(Error(c, msg)));
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto back = decodeReport(line, "x");
    ASSERT_FALSE(back);
    EXPECT_EQ(back.error().code(), c);
    EXPECT_EQ(back.error().message(), msg);
  }
}

TEST(ReportTest, EmptyOrMalformedIsUnavailableNamingTheLog) {
  for (std::string_view text : {"", "\n", "ok 1 2 3 4", "{\"ok\":\"yes\"}", "[true]", "{\"state\":\"running\"}"}) {
    auto back = decodeReport(text, "/km/sb/supervisor.log");
    ASSERT_FALSE(back) << text;
    EXPECT_EQ(back.error().code(), ErrorCode::kUnavailable) << text;
    EXPECT_NE(back.error().message().find("/km/sb/supervisor.log"), std::string::npos) << text;
  }
  // An unknown code is still an error (Unavailable), with its message.
  auto odd = decodeReport(R"({"ok":false,"code":"Martian","message":"m"})", "x");
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(odd.error().message(), "m");
}

}  // namespace
}  // namespace km::supervisor
