// km agent run|list|attach|results SB, km agent SB --claude, and km create --prompt: an
// agent (Claude Code, Codex, any command) run inside a sandbox in a named tmux session that
// outlives the CLI, recorded in the fleet database with its result and the AI spend the
// ledger measured while it ran.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/agent.h"
#include "audit/audit.h"
#include "cli/agent_run.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "core/fs.h"
#include "core/money.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "core/timeline.h"
#include "doc/json_io.h"
#include "profile/profile.h"
#include "store/agent_runs.h"

namespace km::cli {
namespace {

using S = store::SandboxStatus;

constexpr size_t kMaxPrompt = 1u << 20;
constexpr size_t kMaxErrors = 64u << 10;
// The ledger records a call when its response has been read, before the agent can exit; the
// margin covers the clocks of two processes.
constexpr int64_t kSpendMarginMs = 500;

// The shell code `km agent run` runs inside (as the sandbox user, through km exec): makes the
// run's directory, takes the prompt from stdin and the runner script from $2, and starts the
// script in tmux session km-run-N of the sandbox's tmux server (socket "km"). Prints the
// directory. Whatever was at the run's path goes first: nothing planted before the run
// (an `exit`, an `output`) can answer for it.
constexpr const char* kStartScript = R"sh(set -e
umask 077
command -v tmux >/dev/null 2>&1 || { echo "tmux is not installed in the sandbox: install it in spec.execution.initCommands" >&2; exit 69; }
d="$HOME/.km/runs/$1"
rm -rf "$d"
mkdir -p "$HOME/.km/runs"
mkdir -m 700 "$d"
cat > "$d/prompt"
printf '%s' "$2" > "$d/run.sh"
tmux -L km new-session -d -s "km-run-$1" -x 200 -y 50 sh "$d/run.sh"
printf '%s\n' "$d"
)sh";

std::string sessionName(int64_t number) { return "km-run-" + std::to_string(number); }

std::unique_ptr<store::AgentRuns> openRuns(Context& ctx) {
  auto runs = store::openSqliteAgentRuns(ctx.globals().home + "/fleet.db");
  if (!runs) {
    printErr("ERROR: " + runs.error().message());
    return nullptr;
  }
  return std::move(*runs);
}

Result<std::string> promptText(const std::string& arg) {
  std::string text = arg;
  if (!arg.empty() && arg[0] == '@') {
    std::string path = arg.substr(1);
    auto read = fs::readFile(path == "-" ? "/dev/stdin" : path, kMaxPrompt + 1);
    if (!read) return invalidArgument("--prompt " + arg + ": " + read.error().message());
    text = std::move(*read);
  }
  if (text.size() > kMaxPrompt) return invalidArgument("--prompt: longer than 1 MiB");
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return invalidArgument("--prompt: empty");
  return text;
}

std::string commandLine(const agent::Launch& l) {
  if (l.kind == agent::Kind::kCommand) return l.command;
  std::string s;
  for (const auto& a : l.argv) s += (s.empty() ? "" : " ") + agent::shellQuote(a);
  return s;
}

// The profile's spec.agent, from the sandbox's row (the resolved profile it was created from).
std::optional<profile::Agent> agentSpec(const store::SandboxRecord& rec) {
  auto loaded = profile::loadText(rec.profile_yaml, rec.id + " (its profile)", {});
  return loaded.profile.spec.agent;
}

// Resumes a paused or stopped sandbox when asked to; otherwise says what to do.
std::optional<store::SandboxRecord> readyToRun(Context& ctx, store::FleetStore& store, store::SandboxRecord rec,
                                               bool auto_start) {
  if (rec.status == S::kRunning) return rec;
  if ((rec.status == S::kPaused || rec.status == S::kStopped) && auto_start) {
    printErr(rec.id + " is " + std::string(store::statusName(rec.status)) + "; resuming it (--auto-start)");
    if (Status s = fleet::resume(fleetEnv(ctx), store, rec.id); !s) {
      printFailure(s.error());
      return std::nullopt;
    }
    auto again = store.resolve(rec.id);
    if (!again) {
      printFailure(again.error());
      return std::nullopt;
    }
    return *again;
  }
  printErr("ERROR: " + rec.id + " is " + std::string(store::statusName(rec.status)) + "; run `km resume " + rec.id +
           "` first, or pass --auto-start");
  return std::nullopt;
}

// What the sandbox's command log (written by the supervisor from the kernel's exec and exit
// events: nothing inside can forge or hide them) says of a run's runner, `sh RUN/run.sh`:
// whether it was seen starting, and when it ended.
struct RunnerSeen {
  bool started = false;
  std::optional<int64_t> ended_ms;
};

int64_t msOf(audit::WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

RunnerSeen runnerInLog(Context& ctx, const store::SandboxRecord& rec, const store::AgentRun& run) {
  RunnerSeen seen;
  auto files = fleet::sandboxFiles(fleetEnv(ctx), rec);
  if (!files) return seen;
  auto text = fs::readTail(files->command_log, 16u << 20);
  if (!text) return seen;
  const std::string script = run.run_dir + "/run.sh";
  uint32_t host_pid = 0;
  int64_t exec_ms = 0;
  std::string_view all = *text;
  for (size_t at = 0; at < all.size();) {
    size_t end = all.find('\n', at);
    std::string_view line = all.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    at = end == std::string_view::npos ? all.size() : end + 1;
    // Cheap tests first: most lines are other programs.
    if (!seen.started) {
      if (line.find(script) == std::string_view::npos) continue;
      auto r = audit::decode(line);
      if (!r) continue;
      auto* e = std::get_if<audit::ExecRecord>(&*r);
      if (!e || e->argv.size() != 2 || e->argv[1] != script || msOf(e->time) < run.started_at_ms) continue;
      seen.started = true;
      host_pid = e->host_pid;
      exec_ms = msOf(e->time);
    } else {
      if (line.find(std::to_string(host_pid)) == std::string_view::npos) continue;
      auto r = audit::decode(line);
      if (!r) continue;
      auto* x = std::get_if<audit::ExitRecord>(&*r);
      if (!x || x->host_pid != host_pid || msOf(x->time) < exec_ms) continue;
      seen.ended_ms = msOf(x->time);
      break;
    }
  }
  return seen;
}

// A run still recorded as running: its end, when the sandbox shows one (output and errors
// kept in the row), or `lost` when the sandbox can no longer have it. Returns the row as it
// is now.
store::AgentRun refresh(Context& ctx, store::AgentRuns& runs, const std::optional<store::SandboxRecord>& rec,
                        store::AgentRun run) {
  if (run.state != "running") return run;
  store::AgentRun ended = run;
  if (!rec || rec->status == S::kStopped || rec->status == S::kFailed || run.run_dir.empty()) {
    // Gone or stopped: the tmux session went with its processes.
    ended.state = "lost";
  } else if (rec->status != S::kRunning && rec->status != S::kPaused) {
    return run;
  } else {
    fleet::Env env = fleetEnv(ctx);
    // The end is the kernel's (the runner's exit in the command log) where the sandbox is
    // audited; the exit file's own time is the sandbox's word, used only where it is not.
    RunnerSeen runner = runnerInLog(ctx, *rec, run);
    if (runner.started && !runner.ended_ms) return run;  // still running, whatever the files say
    auto exit_text = fleet::readFile(env, *rec, run.run_dir + "/exit", 256);
    bool has_exit = exit_text && *exit_text;
    if (!has_exit && !runner.ended_ms) return run;       // not yet (or unreadable now: later)
    ended.state = "exited";
    if (has_exit) {
      if (auto e = agent::readExit(**exit_text)) {
        ended.exit_status = e->status;
        int64_t now = store::nowMs();
        if (!runner.started && e->at_ms && *e->at_ms >= run.started_at_ms && *e->at_ms <= now) ended.ended_at_ms = *e->at_ms;
      }
    } else {
      ended.state = "lost";  // the runner ended without writing its status (killed, or its files taken)
    }
    if (runner.ended_ms) ended.ended_at_ms = *runner.ended_ms;
    auto out = fleet::readFile(env, *rec, run.run_dir + "/output", store::kMaxKeptOutput);
    if (out && *out) ended.output = std::move(**out);
    auto err = fleet::readFile(env, *rec, run.run_dir + "/stderr", kMaxErrors, true);
    if (err && *err) ended.errors = std::move(**err);
  }
  if (Status s = runs.finish(ended); !s) {
    printErr("WARNING: recording the end of run " + std::to_string(run.number) + ": " + s.error().message());
    return run;
  }
  auto now = runs.get(run.sandbox_id, run.number);
  return now && *now ? **now : ended;
}

agent::Kind kindOf(const store::AgentRun& run) {
  if (run.agent == "codex") return agent::Kind::kCodex;
  if (run.agent == "command") return agent::Kind::kCommand;
  return agent::Kind::kClaude;
}

// `km.measured`: what the ledger settled for the sandbox in the run's window.
doc::Node measuredJson(const store::WindowSpend& spend) {
  doc::Node cost = doc::Node::map();
  cost.set("costUSD", doc::Node::number(formatDollars(spend.cost)));
  cost.set("costMicros", doc::Node::integer(spend.cost));
  cost.set("calls", doc::Node::integer(spend.calls));
  cost.set("inputTokens", doc::Node::integer(spend.input_tokens));
  cost.set("outputTokens", doc::Node::integer(spend.output_tokens));
  cost.set("cacheReadTokens", doc::Node::integer(spend.cache_read_tokens));
  cost.set("cacheWriteTokens", doc::Node::integer(spend.cache_write_tokens));
  cost.set("reasoningTokens", doc::Node::integer(spend.reasoning_tokens));
  return cost;
}

// The result object: the agent's own JSON (Claude's result message) or one in its shape,
// with `km` (what km recorded and measured) added; total_cost_usd is the agent's when it gave
// one, else km's measured cost.
doc::Node resultJson(const store::AgentRun& run, const store::WindowSpend& spend, int64_t to_ms) {
  agent::Outcome o = agent::readOutcome(kindOf(run), run.output);
  doc::Node n = o.json && o.json->isMap() ? *o.json : doc::Node::map();
  if (!n.find("type")) n.set("type", doc::Node::string("result"));
  if (!n.find("result")) n.set("result", doc::Node::string(o.result));
  bool is_error = o.is_error || (run.exit_status && *run.exit_status != 0) || run.state == "lost";
  if (!n.find("is_error")) n.set("is_error", doc::Node::boolean(is_error));
  if (!n.find("total_cost_usd")) n.set("total_cost_usd", doc::Node::number(formatDollars(spend.cost)));
  if (!n.find("usage")) {
    doc::Node u = doc::Node::map();
    u.set("input_tokens", doc::Node::integer(o.input_tokens.value_or(spend.input_tokens)));
    u.set("output_tokens", doc::Node::integer(o.output_tokens.value_or(spend.output_tokens)));
    n.set("usage", std::move(u));
  }
  doc::Node km = doc::Node::map();
  km.set("sandbox", doc::Node::string(run.sandbox_id));
  km.set("run", doc::Node::integer(run.number));
  km.set("agent", doc::Node::string(run.agent));
  km.set("state", doc::Node::string(run.state));
  km.set("exitStatus", run.exit_status ? doc::Node::integer(*run.exit_status) : doc::Node::null());
  km.set("startedAt", doc::Node::string(formatTimeMs(run.started_at_ms)));
  km.set("endedAt", run.ended_at_ms ? doc::Node::string(formatTimeMs(run.ended_at_ms)) : doc::Node::null());
  km.set("durationMs", doc::Node::integer((run.ended_at_ms ? run.ended_at_ms : to_ms) - run.started_at_ms));
  km.set("measured", measuredJson(spend));
  if (!run.errors.empty()) km.set("stderr", doc::Node::string(run.errors));
  n.set("km", std::move(km));
  return n;
}

Result<store::WindowSpend> spendOf(store::AgentRuns& runs, const store::AgentRun& run, int64_t* to_ms) {
  *to_ms = run.ended_at_ms ? run.ended_at_ms + kSpendMarginMs : store::nowMs();
  return runs.spend(run.sandbox_id, run.started_at_ms, *to_ms);
}

// Prints a finished (or lost) run: JSON, or the result text and a summary line on stderr.
int printRun(store::AgentRuns& runs, const store::AgentRun& run, bool json) {
  int64_t to_ms = 0;
  auto spend = spendOf(runs, run, &to_ms);
  if (!spend) return printFailure(spend.error());
  if (json) {
    printOut(doc::toJson(resultJson(run, *spend, to_ms)));
  } else {
    agent::Outcome o = agent::readOutcome(kindOf(run), run.output);
    std::string text = escapeForTerminal(o.result);
    if (!text.empty()) printOut(text.back() == '\n' ? text.substr(0, text.size() - 1) : text);
    std::string summary = "run " + std::to_string(run.number) + " of " + run.sandbox_id + ": " + run.state;
    if (run.exit_status) summary += " (exit " + std::to_string(*run.exit_status) + ")";
    if (run.ended_at_ms) summary += " after " + shortDuration(run.ended_at_ms - run.started_at_ms);
    summary += "; AI $" + formatDollars(spend->cost) + " measured by km, " + std::to_string(spend->calls) + " call(s), " +
               std::to_string(spend->input_tokens) + " input / " + std::to_string(spend->output_tokens) + " output tokens";
    printErr(summary);
    if ((o.is_error || (run.exit_status && *run.exit_status != 0)) && !run.errors.empty()) {
      printErr("its stderr ends with:\n" + escapeForTerminal(run.errors.substr(run.errors.size() > 2000 ? run.errors.size() - 2000 : 0)));
    }
  }
  if (run.state == "lost") return kExitFailed;
  return run.exit_status && *run.exit_status != 0 ? kExitFailed : kExitOk;
}

// Waits for a run to end; paused sandboxes are waited for (said once).
std::optional<store::AgentRun> waitFor(Context& ctx, store::AgentRuns& runs, store::FleetStore& store,
                                       store::AgentRun run) {
  auto delay = std::chrono::milliseconds(100);
  bool told_paused = false;
  for (;;) {
    auto rec = store.get(run.sandbox_id);
    if (!rec) {
      printFailure(rec.error());
      return std::nullopt;
    }
    run = refresh(ctx, runs, *rec, run);
    if (run.state != "running") return run;
    if (*rec && (*rec)->status == S::kPaused && !told_paused) {
      printErr(run.sandbox_id + " is paused; waiting for it to resume (Ctrl-C stops waiting, not the run)");
      told_paused = true;
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

// Runs `argv` inside the sandbox on the user's terminal (attach, interactive sessions).
int onTerminal(Context& ctx, const store::SandboxRecord& rec, std::vector<std::string> argv) {
  fleet::ExecInput in;
  in.argv = std::move(argv);
  in.terminal = true;
  in.warn = [](const std::string& message) { printErr("WARNING: " + message); };
  auto code = fleet::exec(fleetEnv(ctx), rec, in);
  if (!code) return printFailure(code.error());
  return *code;
}

struct RunArgs {
  std::string ref;
  AgentRunOptions o;
};

int runRun(const RunArgs& a, Context& ctx) {
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto rec = resolveOrPrint(*store, a.ref);
  if (!rec) return kExitFailed;
  return startAgentRun(ctx, *store, *rec, a.o);
}

struct RefArgs {
  std::string ref;
  std::optional<int64_t> run;
  bool json = false;
  bool text = false;
  bool claude = false;
};

// The run asked for: `number`, or the last one (the last running one for attach).
std::optional<store::AgentRun> pickRun(store::AgentRuns& runs, const std::string& sandbox_id,
                                       std::optional<int64_t> number, bool prefer_running) {
  auto all = runs.list(sandbox_id);
  if (!all) {
    printFailure(all.error());
    return std::nullopt;
  }
  if (number) {
    for (auto& r : *all) {
      if (r.number == *number) return r;
    }
    printErr("ERROR: " + sandbox_id + " has no run " + std::to_string(*number) + "; `km agent list " + sandbox_id +
             "` shows its runs");
    return std::nullopt;
  }
  if (all->empty()) {
    printErr("ERROR: " + sandbox_id + " has no agent runs; start one with `km agent run " + sandbox_id + " --prompt ...`");
    return std::nullopt;
  }
  if (prefer_running) {
    for (auto it = all->rbegin(); it != all->rend(); ++it) {
      if (it->state == "running") return *it;
    }
  }
  return all->back();
}

int runList(const RefArgs& a, Context& ctx) {
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto rec = resolveOrPrint(*store, a.ref);
  if (!rec) return kExitFailed;
  auto runs = openRuns(ctx);
  if (!runs) return kExitFailed;
  auto all = runs->list(rec->id);
  if (!all) return printFailure(all.error());
  bool json = a.json || ctx.globals().json;
  doc::Node list = doc::Node::seq();
  std::vector<std::vector<std::string>> rows;
  for (auto run : *all) {
    run = refresh(ctx, *runs, rec, run);
    int64_t to_ms = 0;
    auto spend = spendOf(*runs, run, &to_ms);
    if (!spend) return printFailure(spend.error());
    if (json) {
      doc::Node item = doc::Node::map();
      item.set("run", doc::Node::integer(run.number));
      item.set("agent", doc::Node::string(run.agent));
      item.set("state", doc::Node::string(run.state));
      item.set("exitStatus", run.exit_status ? doc::Node::integer(*run.exit_status) : doc::Node::null());
      item.set("startedAt", doc::Node::string(formatTimeMs(run.started_at_ms)));
      item.set("prompt", doc::Node::string(run.prompt));
      item.set("session", doc::Node::string(sessionName(run.number)));
      item.set("measured", measuredJson(*spend));
      list.push(std::move(item));
      continue;
    }
    std::string prompt = escapeForTerminal(run.prompt, false);
    if (prompt.size() > 48) prompt = prompt.substr(0, 45) + "...";
    rows.push_back({std::to_string(run.number), run.agent, run.state,
                    run.exit_status ? std::to_string(*run.exit_status) : "-", formatTimeMs(run.started_at_ms),
                    shortDuration((run.ended_at_ms ? run.ended_at_ms : to_ms) - run.started_at_ms),
                    "$" + formatDollars(spend->cost), prompt});
  }
  if (json) {
    printOut(doc::toJson(list));
    return kExitOk;
  }
  if (rows.empty()) {
    printErr(rec->id + " has no agent runs");
    return kExitOk;
  }
  rows.insert(rows.begin(), {"RUN", "AGENT", "STATE", "EXIT", "STARTED", "TIME", "AI SPEND", "PROMPT"});
  printColumns(rows, 2);
  return kExitOk;
}

// What `results` and `attach` work on: the sandbox, its runs and the run asked for, brought
// up to date. nullopt when something was printed instead.
struct PickedRun {
  std::unique_ptr<store::FleetStore> store;
  store::SandboxRecord rec;
  std::unique_ptr<store::AgentRuns> runs;
  store::AgentRun run;
};

std::optional<PickedRun> pickedRun(const RefArgs& a, Context& ctx, bool prefer_running) {
  PickedRun p;
  p.store = openFleet(ctx);
  if (!p.store) return std::nullopt;
  auto rec = resolveOrPrint(*p.store, a.ref);
  if (!rec) return std::nullopt;
  p.rec = std::move(*rec);
  p.runs = openRuns(ctx);
  if (!p.runs) return std::nullopt;
  auto run = pickRun(*p.runs, p.rec.id, a.run, prefer_running);
  if (!run) return std::nullopt;
  p.run = refresh(ctx, *p.runs, p.rec, *run);
  return p;
}

int runResults(const RefArgs& a, Context& ctx) {
  auto p = pickedRun(a, ctx, false);
  if (!p) return kExitFailed;
  if (p->run.state == "running") {
    printErr("ERROR: run " + std::to_string(p->run.number) + " of " + p->rec.id + " is still running; `km agent attach " +
             p->rec.id + " " + std::to_string(p->run.number) + "` watches it");
    return kExitFailed;
  }
  return printRun(*p->runs, p->run, !a.text);
}

int runAttach(const RefArgs& a, Context& ctx) {
  auto p = pickedRun(a, ctx, true);
  if (!p) return kExitFailed;
  if (p->run.state != "running") {
    printErr("ERROR: run " + std::to_string(p->run.number) + " of " + p->rec.id + " has ended; `km agent results " +
             p->rec.id + " " + std::to_string(p->run.number) + "` shows what it gave");
    return kExitFailed;
  }
  p->store.reset();  // no database connection stays open while attached
  p->runs.reset();
  return onTerminal(ctx, p->rec, {"tmux", "-L", "km", "attach-session", "-t", sessionName(p->run.number)});
}

// km agent SB --claude: Claude Code's own interactive session, in tmux session km-claude
// (created, or joined when it exists).
int runInteractive(const RefArgs& a, Context& ctx) {
  if (!a.claude) {
    printErr("ERROR: km agent SB needs --claude (an interactive Claude Code session), or a subcommand: run, list, "
             "attach, results");
    return kExitUsage;
  }
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto rec = resolveOrPrint(*store, a.ref);
  if (!rec) return kExitFailed;
  if (rec->status != S::kRunning) {
    printErr("ERROR: " + rec->id + " is " + std::string(store::statusName(rec->status)) + "; run `km resume " + rec->id +
             "` first");
    return kExitFailed;
  }
  std::vector<std::string> argv = {"tmux", "-L", "km", "new-session", "-A", "-s", "km-claude", "claude"};
  if (auto spec = agentSpec(*rec); spec && spec->claude) {
    argv.insert(argv.end(), spec->claude->args.begin(), spec->claude->args.end());
  }
  store.reset();
  return onTerminal(ctx, *rec, argv);
}

}  // namespace

int startAgentRun(Context& ctx, store::FleetStore& store, store::SandboxRecord rec, const AgentRunOptions& o) {
  auto prompt = promptText(o.prompt);
  if (!prompt) {
    printErr("ERROR: " + prompt.error().message());
    return kExitUsage;
  }
  auto launch = agent::chooseAgent(agentSpec(rec), o.codex, o.agent_command);
  if (!launch) {
    printErr("ERROR: " + launch.error().message());
    return kExitUsage;
  }
  auto ready = readyToRun(ctx, store, std::move(rec), o.auto_start);
  if (!ready) return kExitFailed;
  auto runs = openRuns(ctx);
  if (!runs) return kExitFailed;
  store::AgentRun run;
  run.sandbox_id = ready->id;
  run.agent = std::string(agent::kindName(launch->kind));
  run.command = commandLine(*launch);
  run.prompt = *prompt;
  auto added = runs->add(run);
  if (!added) return printFailure(added.error());
  run = *added;
  fleet::Env env = fleetEnv(ctx);
  std::vector<std::string> argv = {env.km_binary};
  argv.insert(argv.end(), env.global_args.begin(), env.global_args.end());
  argv.insert(argv.end(), {"exec", "-T", ready->id, "--", "sh", "-c", kStartScript, "km-agent-run",
                           std::to_string(run.number), agent::runnerScript(*launch, ".")});
  auto started = runCaptured(argv, *prompt, 64u << 10, std::chrono::seconds(60));
  std::string dir = started ? std::string(trim(started->out)) : "";
  if (!started || started->exit_code != 0 || dir.empty() || dir[0] != '/') {
    (void)runs->remove(run.sandbox_id, run.number);
    std::string why = !started ? started.error().message() : std::string(trim(started->err));
    printErr("ERROR: starting the agent in " + ready->id + ": " + escapeForTerminal(why.empty() ? "km exec failed" : why));
    return kExitFailed;
  }
  run.run_dir = dir;
  if (Status s = runs->setRunDir(run.sandbox_id, run.number, dir); !s) return printFailure(s.error());
  printErr("run " + std::to_string(run.number) + " of " + run.sandbox_id + " started (" + run.agent +
           ", tmux session " + sessionName(run.number) + "); `km agent results " + run.sandbox_id + " " +
           std::to_string(run.number) + "` fetches its result");
  if (o.interactive) {
    int code = onTerminal(ctx, *ready, {"tmux", "-L", "km", "attach-session", "-t", sessionName(run.number)});
    if (code != 0) return code;
    auto now = runs->get(run.sandbox_id, run.number);
    if (now && *now) run = refresh(ctx, *runs, ready, **now);
    if (run.state == "running") {
      printErr("detached; run " + std::to_string(run.number) + " goes on");
      return kExitOk;
    }
    return printRun(*runs, run, o.json);
  }
  if (!o.wait) {
    if (o.json || ctx.globals().json) {
      doc::Node n = doc::Node::map();
      n.set("sandbox", doc::Node::string(run.sandbox_id));
      n.set("run", doc::Node::integer(run.number));
      n.set("agent", doc::Node::string(run.agent));
      n.set("session", doc::Node::string(sessionName(run.number)));
      n.set("runDir", doc::Node::string(run.run_dir));
      printOut(doc::toJson(n));
    } else {
      printOut(std::to_string(run.number));
    }
    return kExitOk;
  }
  auto ended = waitFor(ctx, *runs, store, run);
  if (!ended) return kExitFailed;
  return printRun(*runs, *ended, o.json || ctx.globals().json);
}

void addAgentRunOptions(CLI::App& sub, AgentRunOptions& o, bool for_create) {
  sub.add_option("--prompt", o.prompt,
                 for_create ? "Start an agent run with this prompt once created (@FILE reads a file, @- stdin)"
                            : "The prompt (@FILE reads a file, @- stdin)")
      ->required(!for_create);
  sub.add_flag("--wait", o.wait, "Block until the agent ends, then print its result");
  if (!for_create) {
    sub.add_flag("--interactive", o.interactive, "Attach to the run's tmux session (Ctrl-B d detaches; the run goes on)");
    sub.add_flag("--auto-start", o.auto_start, "Resume the sandbox first when it is paused or stopped");
  }
  sub.add_flag("--codex", o.codex, "Run Codex (codex exec --json) instead of the profile's default agent");
  sub.add_option("--agent", o.agent_command, "Run this shell command as the agent, the prompt on its stdin");
}

Handler installAgent(CLI::App& sub, Context& ctx) {
  auto top = std::make_shared<RefArgs>();
  sub.add_option("sandbox", top->ref, "Sandbox id, alias, or number (with --claude)");
  sub.add_flag("--claude", top->claude, "An interactive Claude Code session in tmux session km-claude");
  sub.require_subcommand(0, 1);
  sub.fallthrough(false);
  sub.footer(
      "An agent (Claude Code, Codex, any command) on a prompt inside a sandbox, in tmux session\n"
      "km-run-N that outlives the CLI; each run recorded with its result and the AI spend km's\n"
      "proxy measured while it ran. `km agent SB --claude` opens Claude Code's own interactive\n"
      "session (tmux session km-claude: Ctrl-B d detaches, the same command joins it again).\n"
      "See docs/agents.md.");

  auto ra = std::make_shared<RunArgs>();
  CLI::App* run = sub.add_subcommand("run", "Run an agent on a prompt inside a sandbox (in tmux; survives the CLI)");
  run->add_option("sandbox", ra->ref, "Sandbox id, alias, or number")->required();
  addAgentRunOptions(*run, ra->o, false);
  run->add_flag("--json", ra->o.json, "With --wait: the agent's JSON result with km's measurements; else the run's id");
  run->footer(
      "Starts the agent as the sandbox user in tmux session km-run-N (socket `km`) with the\n"
      "sandbox's environment (proxy, CA, masked keys), the prompt on its stdin:\n"
      "  claude   claude -p --output-format json, plus spec.agent.claude.args (the default)\n"
      "  codex    codex exec --json -, plus spec.agent.codex.args (--codex, or spec.agent.default)\n"
      "  command  --agent CMD: /bin/sh -c CMD\n"
      "Prints the run number; --wait blocks and prints the agent's result text (stderr: exit status,\n"
      "time, and the AI spend and tokens km's proxy measured while it ran); with --json the\n"
      "agent's result object with `km` added (jq .result, .total_cost_usd). The run's files are\n"
      "in ~/.km/runs/N inside. Needs tmux in the sandbox. See docs/agents.md.");

  auto la = std::make_shared<RefArgs>();
  CLI::App* list = sub.add_subcommand("list", "List a sandbox's agent runs");
  list->add_option("sandbox", la->ref, "Sandbox id, alias, or number")->required();
  list->add_flag("--json", la->json, "JSON: one object per run");

  auto aa = std::make_shared<RefArgs>();
  CLI::App* attach = sub.add_subcommand("attach", "Attach to a running agent's tmux session (Ctrl-B d detaches)");
  attach->add_option("sandbox", aa->ref, "Sandbox id, alias, or number")->required();
  attach->add_option("run", aa->run, "Run number (default: the last running one)");

  auto rs = std::make_shared<RefArgs>();
  CLI::App* results = sub.add_subcommand("results", "Print an agent run's result as JSON (default: the last run)");
  results->add_option("sandbox", rs->ref, "Sandbox id, alias, or number")->required();
  results->add_option("run", rs->run, "Run number (default: the last)");
  results->add_flag("--text", rs->text, "The result text, with a summary on stderr, instead of JSON");
  results->footer(
      "JSON: the agent's result object (Claude's, or one in its shape for Codex and commands:\n"
      "type, result, is_error, total_cost_usd, usage) with `km`: run, state, exitStatus, times,\n"
      "stderr, and `measured` (costUSD, costMicros, calls and tokens from km's ledger during the\n"
      "run). Results are kept in the fleet database, so they outlive the sandbox.");

  return [&ctx, &sub, top, ra, la, aa, rs, run, list, attach, results]() -> int {
    if (run->parsed()) return runRun(*ra, ctx);
    if (list->parsed()) return runList(*la, ctx);
    if (attach->parsed()) return runAttach(*aa, ctx);
    if (results->parsed()) return runResults(*rs, ctx);
    if (top->ref.empty()) {
      printErr("ERROR: km agent needs a subcommand (run, list, attach, results) or SB --claude\n" + sub.help());
      return kExitUsage;
    }
    return runInteractive(*top, ctx);
  };
}

}  // namespace km::cli
