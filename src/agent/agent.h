// km::agent — what an agent run is, independent of where it runs: which agent a profile and
// the flags choose (Claude Code, Codex, or any command), the script that runs it inside the
// sandbox (prompt on stdin, output, errors and exit status into the run's directory), and
// reading its output back (Claude's JSON result, Codex's JSON event stream, a command's
// text). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "doc/node.h"
#include "profile/types.h"

namespace km::agent {

enum class Kind { kClaude, kCodex, kCommand };
std::string_view kindName(Kind kind);  // claude | codex | command

// How to start the agent: the program and its arguments (claude: -p --output-format json and
// spec.agent.claude.args; codex: exec --json and spec.agent.codex.args, the prompt read from
// stdin with "-"), or a shell command line (kCommand).
struct Launch {
  Kind kind = Kind::kClaude;
  std::vector<std::string> argv;  // claude, codex
  std::string command;            // kCommand: run by /bin/sh -c
};

// The agent for a run: `command` when given (--agent CMD), else codex with `codex` (--codex),
// else spec.agent.default (claude when absent). InvalidArgument naming the flag for an empty
// command or both flags at once.
[[nodiscard]] Result<Launch> chooseAgent(const std::optional<profile::Agent>& spec, bool codex,
                                         const std::optional<std::string>& command);

// The script (POSIX sh) that runs `launch` inside the sandbox from `workdir`, kept as
// RUN/run.sh where RUN is the run's directory (the script finds it from its own path), with
// the prompt file RUN/prompt on its stdin: its output goes to RUN/output (and to the
// terminal of the tmux session it runs in), its errors to RUN/stderr, and "STATUS END_MS" to
// RUN/exit (written last, by rename, so a reader that sees the file sees the whole status;
// END_MS, the end in ms since the epoch, is left out where `date` cannot give it). Every value
// is quoted.
std::string runnerScript(const Launch& launch, const std::string& workdir);

// RUN/exit as runnerScript writes it. InvalidArgument for anything else.
struct Ended {
  int status = 0;
  std::optional<int64_t> at_ms;
};
[[nodiscard]] Result<Ended> readExit(std::string_view text);

// A single-quoted shell word for `text` (any bytes).
std::string shellQuote(std::string_view text);

// What a finished run produced, as read from its output.
struct Outcome {
  std::string result;          // the agent's answer (Claude's `result`, Codex's last message, a command's output)
  bool is_error = false;       // the agent said it failed (Claude's is_error; an error event of Codex)
  std::optional<doc::Node> json;  // Claude's result object as the agent wrote it
  // What the agent itself reported (not what km measured): tokens and Claude's total_cost_usd
  // text, when present.
  std::optional<int64_t> input_tokens, output_tokens;
  std::optional<std::string> agent_cost_usd;
};

// Reads `output` (at most what the caller fetched; may be cut): never fails — output that is
// not the agent's format becomes the result text as it is.
Outcome readOutcome(Kind kind, std::string_view output);

}  // namespace km::agent
