#include "agent/agent.h"

#include <gtest/gtest.h>

#include <ctime>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

namespace km::agent {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AgentTest, TheFlagsAndTheProfileChooseTheAgent) {
  auto claude = chooseAgent(std::nullopt, false, std::nullopt);
  ASSERT_TRUE(claude);
  EXPECT_EQ(claude->kind, Kind::kClaude);
  EXPECT_EQ(claude->argv, (std::vector<std::string>{"claude", "-p", "--output-format", "json"}));

  profile::Agent spec;
  spec.default_agent = "codex";
  spec.codex.emplace();
  spec.codex->args = {"--model", "o4-mini"};
  spec.claude.emplace();
  spec.claude->args = {"--dangerously-skip-permissions"};
  auto codex = chooseAgent(spec, false, std::nullopt);
  ASSERT_TRUE(codex);
  EXPECT_EQ(codex->kind, Kind::kCodex);
  EXPECT_EQ(codex->argv,
            (std::vector<std::string>{"codex", "exec", "--json", "--skip-git-repo-check", "--model", "o4-mini", "-"}));
  spec.default_agent = "claude";
  EXPECT_EQ(chooseAgent(spec, false, std::nullopt)->argv.back(), "--dangerously-skip-permissions");
  EXPECT_EQ(chooseAgent(spec, true, std::nullopt)->kind, Kind::kCodex);  // --codex wins

  auto cmd = chooseAgent(spec, false, std::string("wc -c"));
  ASSERT_TRUE(cmd);
  EXPECT_EQ(cmd->kind, Kind::kCommand);
  EXPECT_FALSE(chooseAgent(spec, true, std::string("wc -c")));
  EXPECT_FALSE(chooseAgent(spec, false, std::string("  ")));
}

TEST(AgentTest, TheRunnerScriptFeedsThePromptAndRecordsOutputAndStatus) {
  char tmpl[] = "/tmp/km-agent-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  // A directory name a shell would split or expand, to prove the quoting.
  std::string run = dir + "/run $(x) 'q'";
  ASSERT_EQ(::system(("mkdir -p " + shellQuote(run)).c_str()), 0);
  std::ofstream(run + "/prompt") << "count these bytes";
  Launch l;
  l.kind = Kind::kCommand;
  l.command = "wc -c; echo oops >&2; exit 7";
  std::ofstream(run + "/run.sh") << runnerScript(l, dir);
  int status = ::system(("sh " + shellQuote(run + "/run.sh")).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_EQ(slurp(run + "/output"), "17\n");
  EXPECT_EQ(slurp(run + "/stderr"), "oops\n");
  auto ended = readExit(slurp(run + "/exit"));
  ASSERT_TRUE(ended) << slurp(run + "/exit");
  EXPECT_EQ(ended->status, 7);
  ASSERT_TRUE(ended->at_ms);
  EXPECT_NEAR(static_cast<double>(*ended->at_ms), static_cast<double>(std::time(nullptr)) * 1000, 60'000);
  ASSERT_EQ(::system(("rm -rf " + shellQuote(dir)).c_str()), 0);
}

TEST(AgentTest, ExitFilesAreReadStrictly) {
  EXPECT_EQ(readExit("0\n")->status, 0);
  EXPECT_FALSE(readExit("0\n")->at_ms);
  EXPECT_EQ(readExit("3 1765000000000\n")->at_ms, 1765000000000);
  EXPECT_FALSE(readExit("3 soon\n")->at_ms);
  EXPECT_FALSE(readExit(""));
  EXPECT_FALSE(readExit("x"));
  EXPECT_FALSE(readExit("256"));
  EXPECT_FALSE(readExit("-1"));
}

TEST(AgentTest, ShellQuoteSurvivesQuotes) {
  EXPECT_EQ(shellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(shellQuote(""), "''");
}

TEST(AgentTest, ClaudesResultIsRead) {
  auto o = readOutcome(Kind::kClaude,
                       R"({"type":"result","subtype":"success","is_error":false,"result":"4","session_id":"s",)"
                       R"("total_cost_usd":0.0123,"usage":{"input_tokens":12,"output_tokens":3}})");
  EXPECT_EQ(o.result, "4");
  EXPECT_FALSE(o.is_error);
  EXPECT_EQ(o.input_tokens, 12);
  EXPECT_EQ(o.output_tokens, 3);
  EXPECT_EQ(o.agent_cost_usd, "0.0123");
  ASSERT_TRUE(o.json);
  // With --verbose, a list whose last message is the result.
  auto v = readOutcome(Kind::kClaude, R"([{"type":"system"},{"type":"result","is_error":true,"result":"budget"}])");
  EXPECT_EQ(v.result, "budget");
  EXPECT_TRUE(v.is_error);
  // Anything else: the text, as an error.
  auto bad = readOutcome(Kind::kClaude, "Error: no API key");
  EXPECT_EQ(bad.result, "Error: no API key");
  EXPECT_TRUE(bad.is_error);
}

TEST(AgentTest, CodexEventsGiveTheLastMessageAndTheTurnsUsage) {
  std::string events =
      R"({"type":"thread.started","thread_id":"t"})" "\n"
      R"({"type":"item.completed","item":{"id":"0","type":"reasoning","text":"thinking"}})" "\n"
      R"({"type":"item.completed","item":{"id":"1","type":"agent_message","text":"first"}})" "\n"
      R"({"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":7}})" "\n"
      "not json\n"
      R"({"type":"item.completed","item":{"id":"2","type":"agent_message","text":"done"}})" "\n"
      R"({"type":"turn.completed","usage":{"input_tokens":50,"output_tokens":3}})" "\n";
  auto o = readOutcome(Kind::kCodex, events);
  EXPECT_EQ(o.result, "done");
  EXPECT_FALSE(o.is_error);
  EXPECT_EQ(o.input_tokens, 150);
  EXPECT_EQ(o.output_tokens, 10);
  auto failed = readOutcome(Kind::kCodex, R"({"type":"turn.failed","error":{"message":"budget exhausted"}})");
  EXPECT_TRUE(failed.is_error);
  EXPECT_EQ(failed.result, "budget exhausted");
}

}  // namespace
}  // namespace km::agent
