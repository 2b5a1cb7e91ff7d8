#include <optional>
#include <string>

#include "store/agent_runs.h"
#include "store/sqlite_db.h"
#include "store/sqlite_schema.h"
#include "store/store.h"

namespace km::store {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::WriteTxn;

constexpr std::string_view kColumns =
    "sandbox_id, number, agent, command, prompt, run_dir, started_at_ms, ended_at_ms, exit_status, state, output, errors";

AgentRun runAt(const Stmt& q) {
  AgentRun r;
  r.sandbox_id = q.textAt(0);
  r.number = q.int64At(1);
  r.agent = q.textAt(2);
  r.command = q.textAt(3);
  r.prompt = q.textAt(4);
  r.run_dir = q.textAt(5);
  r.started_at_ms = q.int64At(6);
  r.ended_at_ms = q.int64At(7);
  if (auto s = q.optionalTextAt(8)) r.exit_status = static_cast<int>(q.int64At(8));
  r.state = q.textAt(9);
  r.output = q.textAt(10);
  r.errors = q.textAt(11);
  return r;
}

class SqliteAgentRuns final : public AgentRuns {
 public:
  explicit SqliteAgentRuns(Db db) : db_(std::move(db)) {}

  Result<AgentRun> add(AgentRun run) override {
    if (run.sandbox_id.empty()) return invalidArgument("an agent run needs its sandbox");
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error();
    auto next = db_.prepare("SELECT coalesce(max(number), 0) + 1 FROM agent_runs WHERE sandbox_id = ?1");
    if (!next) return std::move(next).error();
    next->bind(1, run.sandbox_id);
    auto row = next->step();
    if (!row) return std::move(row).error();
    run.number = next->int64At(0);
    if (run.started_at_ms == 0) run.started_at_ms = nowMs();
    run.state = "running";
    run.ended_at_ms = 0;
    run.exit_status.reset();
    auto ins = db_.prepare("INSERT INTO agent_runs (" + std::string(kColumns) +
                           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, NULL, 'running', '', '')");
    if (!ins) return std::move(ins).error();
    ins->bind(1, run.sandbox_id);
    ins->bind(2, run.number);
    ins->bind(3, run.agent);
    ins->bind(4, run.command);
    ins->bind(5, run.prompt);
    ins->bind(6, run.run_dir);
    ins->bind(7, run.started_at_ms);
    KM_TRY(ins->run());
    KM_TRY(txn->commit());
    return run;
  }

  Status finish(const AgentRun& ended) override {
    if (ended.state == "running") return invalidArgument("finish: a run ends as exited or lost");
    auto q = db_.prepare(
        "UPDATE agent_runs SET state = ?3, exit_status = ?4, ended_at_ms = ?5, output = ?6, errors = ?7"
        " WHERE sandbox_id = ?1 AND number = ?2 AND state = 'running'");
    if (!q) return std::move(q).error();
    q->bind(1, ended.sandbox_id);
    q->bind(2, ended.number);
    q->bind(3, ended.state);
    if (ended.exit_status) {
      q->bind(4, int64_t{*ended.exit_status});
    } else {
      q->bindNull(4);
    }
    q->bind(5, ended.ended_at_ms != 0 ? ended.ended_at_ms : nowMs());
    q->bind(6, std::string_view(ended.output).substr(0, kMaxKeptOutput));
    std::string_view errors = ended.errors;
    if (errors.size() > kMaxKeptOutput) errors = errors.substr(errors.size() - kMaxKeptOutput);
    q->bind(7, errors);
    KM_TRY(q->run());
    if (db_.changes() == 0) {
      auto r = get(ended.sandbox_id, ended.number);
      if (!r) return std::move(r).error();
      if (!*r) return notFound("no run " + std::to_string(ended.number) + " of " + ended.sandbox_id);
    }
    return ok();
  }

  Status setRunDir(std::string_view sandbox_id, int64_t number, std::string_view run_dir) override {
    auto q = db_.prepare("UPDATE agent_runs SET run_dir = ?3 WHERE sandbox_id = ?1 AND number = ?2");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox_id);
    q->bind(2, number);
    q->bind(3, run_dir);
    KM_TRY(q->run());
    if (db_.changes() == 0) return notFound("no run " + std::to_string(number) + " of " + std::string(sandbox_id));
    return ok();
  }

  Status remove(std::string_view sandbox_id, int64_t number) override {
    auto q = db_.prepare("DELETE FROM agent_runs WHERE sandbox_id = ?1 AND number = ?2");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox_id);
    q->bind(2, number);
    return q->run();
  }

  Result<std::optional<AgentRun>> get(std::string_view sandbox_id, int64_t number) override {
    auto q = db_.prepare("SELECT " + std::string(kColumns) + " FROM agent_runs WHERE sandbox_id = ?1 AND number = ?2");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox_id);
    q->bind(2, number);
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<AgentRun>();
    return std::optional<AgentRun>(runAt(*q));
  }

  Result<std::vector<AgentRun>> list(std::string_view sandbox_id) override {
    auto q = db_.prepare("SELECT " + std::string(kColumns) + " FROM agent_runs WHERE sandbox_id = ?1 ORDER BY number");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox_id);
    std::vector<AgentRun> out;
    for (;;) {
      auto row = q->step();
      if (!row) return std::move(row).error().context("reading the agent runs of " + std::string(sandbox_id));
      if (!*row) break;
      out.push_back(runAt(*q));
    }
    return out;
  }

  Result<WindowSpend> spend(std::string_view sandbox_id, int64_t from_ms, int64_t to_ms) override {
    auto q = db_.prepare(
        "SELECT count(*), coalesce(sum(cost_micros), 0), coalesce(sum(input_tokens), 0),"
        " coalesce(sum(output_tokens), 0), coalesce(sum(cache_read_tokens), 0),"
        " coalesce(sum(cache_write_5m_tokens + cache_write_1h_tokens), 0), coalesce(sum(reasoning_tokens), 0)"
        " FROM usage_events WHERE sandbox_id = ?1 AND pool = 'ai' AND at_ms >= ?2 AND at_ms <= ?3");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox_id);
    q->bind(2, from_ms);
    q->bind(3, to_ms);
    auto row = q->step();
    if (!row) return std::move(row).error();
    WindowSpend s;
    if (*row) {
      s.calls = q->int64At(0);
      s.cost = q->int64At(1);
      s.input_tokens = q->int64At(2);
      s.output_tokens = q->int64At(3);
      s.cache_read_tokens = q->int64At(4);
      s.cache_write_tokens = q->int64At(5);
      s.reasoning_tokens = q->int64At(6);
    }
    return s;
  }

 private:
  Db db_;
};

}  // namespace

Result<std::unique_ptr<AgentRuns>> openSqliteAgentRuns(const std::string& path) {
  auto db = sqlite::openDatabase(path);
  if (!db) return std::move(db).error();
  return std::unique_ptr<AgentRuns>(std::make_unique<SqliteAgentRuns>(std::move(*db)));
}

}  // namespace km::store
