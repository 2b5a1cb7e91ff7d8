#include "agent/agent.h"

#include <charconv>

#include "doc/json_io.h"

namespace km::agent {
namespace {

const doc::Node* field(const doc::Node& n, std::string_view key) { return n.isMap() ? n.find(key) : nullptr; }

std::optional<int64_t> integerField(const doc::Node* n, std::string_view key) {
  const doc::Node* v = n ? field(*n, key) : nullptr;
  if (!v || v->kind() != doc::Node::Kind::kInt) return std::nullopt;
  try {
    return std::stoll(v->text());
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<doc::Node> parse(std::string_view text) {
  doc::Node n;
  std::string err;
  if (!doc::parseJson(text, n, &err)) return std::nullopt;
  return n;
}

// Claude Code's -p --output-format json: one result object (with --verbose, a list of
// messages whose last is the result).
Outcome readClaude(std::string_view output) {
  Outcome o;
  auto n = parse(output);
  if (n && n->isSeq() && !n->items().empty()) {
    doc::Node last = n->items().back();  // a copy first: it lives inside *n
    n = std::move(last);
  }
  const doc::Node* type = n ? field(*n, "type") : nullptr;
  if (!n || !type || type->text() != "result") {
    o.result = std::string(output);
    o.is_error = true;
    return o;
  }
  if (const doc::Node* r = field(*n, "result"); r && r->isScalar()) o.result = r->text();
  if (const doc::Node* e = field(*n, "is_error"); e && e->kind() == doc::Node::Kind::kBool) o.is_error = e->text() == "true";
  if (const doc::Node* c = field(*n, "total_cost_usd"); c && c->isScalar()) o.agent_cost_usd = c->text();
  const doc::Node* usage = field(*n, "usage");
  o.input_tokens = integerField(usage, "input_tokens");
  o.output_tokens = integerField(usage, "output_tokens");
  o.json = std::move(*n);
  return o;
}

// Codex's exec --json: one event per line. The answer is the last agent message; usage is
// summed over the turns.
Outcome readCodex(std::string_view output) {
  Outcome o;
  bool any_message = false;
  int64_t in = 0, out = 0;
  bool any_usage = false;
  while (!output.empty()) {
    size_t nl = output.find('\n');
    std::string_view line = output.substr(0, nl);
    output = nl == std::string_view::npos ? std::string_view() : output.substr(nl + 1);
    auto n = parse(line);
    if (!n || !n->isMap()) continue;
    const doc::Node* type = field(*n, "type");
    std::string t = type && type->isScalar() ? type->text() : "";
    const doc::Node* item = field(*n, "item");
    const doc::Node* item_type = item ? field(*item, "type") : nullptr;
    if (t == "item.completed" && item_type && item_type->text() == "agent_message") {
      if (const doc::Node* text = field(*item, "text"); text && text->isScalar()) {
        o.result = text->text();
        any_message = true;
      }
    } else if (t == "turn.completed") {
      const doc::Node* usage = field(*n, "usage");
      if (auto v = integerField(usage, "input_tokens")) in += *v, any_usage = true;
      if (auto v = integerField(usage, "output_tokens")) out += *v, any_usage = true;
    } else if (t == "turn.failed" || t == "error") {
      o.is_error = true;
      const doc::Node* err = field(*n, "error");
      const doc::Node* msg = err ? field(*err, "message") : field(*n, "message");
      if (msg && msg->isScalar() && !any_message) o.result = msg->text();
    }
  }
  if (any_usage) {
    o.input_tokens = in;
    o.output_tokens = out;
  }
  return o;
}

}  // namespace

std::string_view kindName(Kind kind) {
  switch (kind) {
    case Kind::kClaude: return "claude";
    case Kind::kCodex: return "codex";
    case Kind::kCommand: return "command";
  }
  return "command";
}

Result<Launch> chooseAgent(const std::optional<profile::Agent>& spec, bool codex,
                           const std::optional<std::string>& command) {
  Launch l;
  if (command) {
    if (codex) return invalidArgument("--agent and --codex name different agents; give one");
    if (command->find_first_not_of(" \t") == std::string::npos) {
      return invalidArgument("--agent: empty command (give the command line that reads the prompt on stdin)");
    }
    l.kind = Kind::kCommand;
    l.command = *command;
    return l;
  }
  bool use_codex = codex || (spec && spec->default_agent == "codex");
  if (use_codex) {
    l.kind = Kind::kCodex;
    l.argv = {"codex", "exec", "--json", "--skip-git-repo-check"};
    if (spec && spec->codex) l.argv.insert(l.argv.end(), spec->codex->args.begin(), spec->codex->args.end());
    l.argv.push_back("-");  // the prompt from stdin
    return l;
  }
  l.kind = Kind::kClaude;
  l.argv = {"claude", "-p", "--output-format", "json"};
  if (spec && spec->claude) l.argv.insert(l.argv.end(), spec->claude->args.begin(), spec->claude->args.end());
  return l;
}

std::string shellQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string runnerScript(const Launch& launch, const std::string& workdir) {
  std::string cmd;
  if (launch.kind == Kind::kCommand) {
    cmd = "/bin/sh -c " + shellQuote(launch.command);
  } else {
    for (const auto& a : launch.argv) cmd += (cmd.empty() ? "" : " ") + shellQuote(a);
  }
  std::string s;
  s += "#!/bin/sh\n";
  s += "# km agent run: " + std::string(kindName(launch.kind)) + "\n";
  s += "run=${0%/*}\n";  // the script's own directory, without starting a program
  s += "cd " + shellQuote(workdir) + " 2>/dev/null || cd\n";
  // The output goes to the file and to the terminal of the run's tmux session (for whoever
  // attaches); the agent's status is taken inside the braces, before tee's.
  s += "{ " + cmd + " < \"$run/prompt\" 2> \"$run/stderr\"; echo \"$?\" > \"$run/status\"; } | tee \"$run/output\"\n";
  s += "read status < \"$run/status\" || status=1\n";
  s += "echo \"$status $(date +%s%3N 2>/dev/null)\" > \"$run/exit.tmp\" && mv \"$run/exit.tmp\" \"$run/exit\"\n";
  s += "exit \"$status\"\n";
  return s;
}

Result<Ended> readExit(std::string_view text) {
  std::string_view t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
  size_t space = t.find(' ');
  std::string_view status = t.substr(0, space), when = space == std::string_view::npos ? "" : t.substr(space + 1);
  Ended e;
  int value = 0;
  auto [p, ec] = std::from_chars(status.data(), status.data() + status.size(), value);
  if (status.empty() || ec != std::errc() || p != status.data() + status.size() || value < 0 || value > 255) {
    return invalidArgument("not an exit status: " + std::string(status.substr(0, 40)));
  }
  e.status = value;
  int64_t ms = 0;
  auto [q, ec2] = std::from_chars(when.data(), when.data() + when.size(), ms);
  if (!when.empty() && ec2 == std::errc() && q == when.data() + when.size() && ms > 0) e.at_ms = ms;
  return e;
}

Outcome readOutcome(Kind kind, std::string_view output) {
  switch (kind) {
    case Kind::kClaude: return readClaude(output);
    case Kind::kCodex: return readCodex(output);
    case Kind::kCommand: break;
  }
  Outcome o;
  o.result = std::string(output);
  return o;
}

}  // namespace km::agent
