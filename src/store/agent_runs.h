// km::store — agent runs (km agent run): one row per run of an agent in a sandbox, numbered
// per sandbox from 1, kept after the sandbox is gone (history, like events and usage). The
// run's end is learned after the fact (the agent writes its exit status inside the sandbox;
// whoever looks next records it), so a row may say `running` for a run that has ended.
// AgentRuns is the interface (SQLite here, in the fleet database); one object per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/result.h"

namespace km::store {

struct AgentRun {
  std::string sandbox_id;
  int64_t number = 0;        // per sandbox, from 1
  std::string agent;         // claude | codex | command
  std::string command;       // what ran, as one line (the argv quoted, or the shell command)
  std::string prompt;
  std::string run_dir;       // inside the sandbox
  int64_t started_at_ms = 0;
  int64_t ended_at_ms = 0;   // 0 while running (or not yet seen to end)
  std::optional<int> exit_status;  // the agent's, once ended
  std::string state;         // running | exited | lost (the sandbox went before the run ended)
  // Kept once the run has ended (at most kMaxKeptOutput bytes each), so results outlive the
  // sandbox: what the agent wrote to stdout, and the end of its stderr.
  std::string output, errors;
};

inline constexpr size_t kMaxKeptOutput = 4u << 20;

// The AI spend of a sandbox in a time window, from the ledger's usage events.
struct WindowSpend {
  int64_t calls = 0;
  Micros cost = 0;
  int64_t input_tokens = 0, output_tokens = 0, cache_read_tokens = 0, cache_write_tokens = 0, reasoning_tokens = 0;
};

class AgentRuns {
 public:
  virtual ~AgentRuns() = default;
  // Adds a run with the next number of its sandbox (set in the returned row), state running.
  [[nodiscard]] virtual Result<AgentRun> add(AgentRun run) = 0;
  // Records the end of a run that is still `running` (no-op otherwise): state, exit_status,
  // ended_at_ms (0: now), output and errors of `ended`. NotFound when absent.
  [[nodiscard]] virtual Status finish(const AgentRun& ended) = 0;
  // Where the run's files are inside the sandbox, once it has started.
  [[nodiscard]] virtual Status setRunDir(std::string_view sandbox_id, int64_t number, std::string_view run_dir) = 0;
  // Its removal, when starting it failed.
  [[nodiscard]] virtual Status remove(std::string_view sandbox_id, int64_t number) = 0;
  [[nodiscard]] virtual Result<std::optional<AgentRun>> get(std::string_view sandbox_id, int64_t number) = 0;
  // The sandbox's runs, oldest first.
  [[nodiscard]] virtual Result<std::vector<AgentRun>> list(std::string_view sandbox_id) = 0;
  // AI usage settled for the sandbox with from_ms <= time <= to_ms.
  [[nodiscard]] virtual Result<WindowSpend> spend(std::string_view sandbox_id, int64_t from_ms, int64_t to_ms) = 0;
};

// Opens the fleet database at `path` (as openSqlite does: created and migrated when needed).
[[nodiscard]] Result<std::unique_ptr<AgentRuns>> openSqliteAgentRuns(const std::string& path);

}  // namespace km::store
