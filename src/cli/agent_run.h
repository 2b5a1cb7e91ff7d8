// Starting an agent run (private to cli): shared by `km agent run` and `km create --prompt`.
#pragma once

#include <optional>
#include <string>

#include "cli/context.h"
#include "store/store.h"

namespace CLI {
class App;
}

namespace km::cli {

struct AgentRunOptions {
  std::string prompt;  // text, or @FILE / @- (stdin)
  bool wait = false, interactive = false, auto_start = false, codex = false, json = false;
  std::optional<std::string> agent_command;  // --agent CMD
};

// Declares --prompt, --wait, --codex, --agent (and for km agent run --interactive, --auto-start).
void addAgentRunOptions(CLI::App& sub, AgentRunOptions& o, bool for_create);

// Starts a run in `rec` (see km agent run --help); returns the exit code.
int startAgentRun(Context& ctx, store::FleetStore& store, store::SandboxRecord rec, const AgentRunOptions& o);

}  // namespace km::cli
