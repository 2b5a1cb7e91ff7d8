// The agent-run rows (store/agent_runs.h) on SQLite: numbering per sandbox, the end recorded
// once, output kept within its bound, and the AI spend of a time window from the ledger.
#include <gtest/gtest.h>

#include <string>

#include "store/agent_runs.h"
#include "store/ledger.h"
#include "support/temp_dir.h"

namespace km::store {
namespace {

using km::test::ScopedTempDir;

class AgentRunsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = openSqliteAgentRuns(path());
    ASSERT_TRUE(r) << r.error().message();
    runs_ = std::move(*r);
  }
  std::string path() const { return dir_.path() + "/fleet.db"; }
  AgentRun sample(std::string sandbox, int64_t started = 1'000) {
    AgentRun r;
    r.sandbox_id = std::move(sandbox);
    r.agent = "claude";
    r.command = "claude -p --output-format json";
    r.prompt = "what is 2+2?";
    r.started_at_ms = started;
    return r;
  }
  ScopedTempDir dir_;
  std::unique_ptr<AgentRuns> runs_;
};

TEST_F(AgentRunsTest, RunsAreNumberedPerSandbox) {
  EXPECT_EQ(runs_->add(sample("a"))->number, 1);
  EXPECT_EQ(runs_->add(sample("a"))->number, 2);
  EXPECT_EQ(runs_->add(sample("b"))->number, 1);
  auto added = runs_->add(sample("a"));
  ASSERT_TRUE(added);
  EXPECT_EQ(added->number, 3);
  EXPECT_EQ(added->state, "running");
  auto list = runs_->list("a");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ(list->front().prompt, "what is 2+2?");
  EXPECT_FALSE(runs_->add(sample("")));
}

TEST_F(AgentRunsTest, TheEndIsRecordedOnceWithItsOutput) {
  auto run = *runs_->add(sample("a"));
  ASSERT_TRUE(runs_->setRunDir("a", run.number, "/home/sandbox/.km/runs/1"));
  AgentRun ended = run;
  ended.state = "exited";
  ended.exit_status = 3;
  ended.ended_at_ms = 5'000;
  ended.output = R"({"type":"result","result":"4"})";
  ended.errors = std::string(kMaxKeptOutput + 10, 'e') + "last";
  ASSERT_TRUE(runs_->finish(ended));
  auto got = runs_->get("a", run.number);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->state, "exited");
  EXPECT_EQ((*got)->exit_status, 3);
  EXPECT_EQ((*got)->ended_at_ms, 5'000);
  EXPECT_EQ((*got)->run_dir, "/home/sandbox/.km/runs/1");
  EXPECT_EQ((*got)->output, ended.output);
  EXPECT_EQ((*got)->errors.size(), kMaxKeptOutput);  // the end of it
  EXPECT_TRUE((*got)->errors.ends_with("last"));
  // A second end (another CLI saw it too) changes nothing.
  AgentRun again = ended;
  again.state = "lost";
  again.exit_status.reset();
  ASSERT_TRUE(runs_->finish(again));
  EXPECT_EQ((*runs_->get("a", run.number))->state, "exited");
  ended.number = 99;
  EXPECT_EQ(runs_->finish(ended).error().code(), ErrorCode::kNotFound);
  ended.state = "running";
  EXPECT_FALSE(runs_->finish(ended));
}

TEST_F(AgentRunsTest, RemovedRunsLeaveTheirNumberFree) {
  auto run = *runs_->add(sample("a"));
  ASSERT_TRUE(runs_->remove("a", run.number));
  EXPECT_FALSE(*runs_->get("a", run.number));
  EXPECT_EQ(runs_->add(sample("a"))->number, 1);
}

TEST_F(AgentRunsTest, SpendIsTheLedgersInTheWindow) {
  auto ledger = openSqliteLedger(path());
  ASSERT_TRUE(ledger) << ledger.error().message();
  auto charge = [&](std::string sandbox, int64_t at, Micros cost, Pool pool = Pool::kAi) {
    UsageEvent e;
    e.sandbox_id = std::move(sandbox);
    e.at_ms = at;
    e.provider = "anthropic";
    e.api = "anthropic-messages";
    e.model = "claude-sonnet-4-5";
    e.request_id = "msg";
    e.input_tokens = 100;
    e.output_tokens = 20;
    e.cache_read_tokens = 5;
    e.cost = cost;
    ASSERT_TRUE((*ledger)->charge(pool, e));
  };
  charge("a", 999, 1);         // before
  charge("a", 1'000, 300);     // the window's edges count
  charge("a", 2'000, 200);
  charge("a", 2'000, 7, Pool::kCompute);  // not AI
  charge("b", 1'500, 50);      // another sandbox
  charge("a", 2'001, 1'000);   // after
  auto s = runs_->spend("a", 1'000, 2'000);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->calls, 2);
  EXPECT_EQ(s->cost, 500);
  EXPECT_EQ(s->input_tokens, 200);
  EXPECT_EQ(s->output_tokens, 40);
  EXPECT_EQ(s->cache_read_tokens, 10);
  auto none = runs_->spend("c", 0, 10'000);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->calls, 0);
  EXPECT_EQ(none->cost, 0);
}

}  // namespace
}  // namespace km::store
