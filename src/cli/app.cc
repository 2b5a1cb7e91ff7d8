// Wires the command table into CLI11 and maps its outcomes to exit codes. The only file
// that catches CLI11's exceptions.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <optional>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/strings.h"
#include "doc/json_io.h"
#include "substrate/substrate.h"

namespace km::cli {

int guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    printErr(std::string("BUG: unexpected exception: ") + e.what() +
             " (please report this; km exits 70)");
  } catch (...) {
    printErr("BUG: unexpected non-standard exception (please report this; km exits 70)");
  }
  return kExitBug;
}

const config::Config* Context::config() {
  if (config_) return &*config_;
  if (config_failed_) return nullptr;
  bool required = !globals_.config_path.empty();
  std::string path = required ? globals_.config_path : globals_.home + "/config.yaml";
  auto loaded = config::loadConfig(path, required);
  if (!loaded) {
    printErr("ERROR: " + loaded.error().message());
    config_failed_ = true;
    return nullptr;
  }
  printDiagnostics(loaded->diagnostics, path);
  if (!loaded->ok()) {
    printErr("ERROR: the operator config " + path + " is invalid; fix it or point --config elsewhere");
    config_failed_ = true;
    return nullptr;
  }
  config_ = config::effective(loaded->config);
  return &*config_;
}

std::optional<std::vector<std::string>> Context::searchPaths() {
  std::vector<std::string> out;
  for (const auto& p : globals_.profile_paths) {
    std::string dir = fs::expandHome(p);
    if (!fs::isDirectory(dir)) {
      printErr("ERROR: --profile-path " + p + (fs::exists(dir) ? ": not a directory" : ": no such directory") +
               "; give a directory that holds profiles");
      return std::nullopt;
    }
    out.push_back(dir);
  }
  if (const config::Config* c = config(); c && c->profile_search_paths) {
    for (const auto& p : *c->profile_search_paths) out.push_back(fs::expandHome(p));
  }
  return out;
}

namespace {

std::string defaultHome() {
  const char* env = std::getenv("KM_HOME");
  return env && *env ? env : "/var/lib/km";
}

// The first word on the command line that is neither a global option nor its value.
std::string_view commandWord(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") return {};
    if (a.empty() || a[0] != '-') return a;
    if (a == "--home" || a == "--config" || a == "--profile-path") ++i;  // its value follows
  }
  return {};
}

bool wantsJson(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--json") return true;
  }
  return false;
}

// Commands of upstream's km that this one does not have yet, and what they do there.
struct Missing {
  std::string_view name, what;
};
constexpr Missing kNotYet[] = {
    {"at", "schedules operations for later"},
    {"schedule", "schedules operations for later (alias of at)"},
    {"budget", "tops up a sandbox's AI or compute budget"},
    {"configure", "sets up the platform and its GitHub App"},
    {"github", "creates and checks the GitHub App"},
    {"bootstrap", "deploys upstream's AWS foundation"},
    {"unbootstrap", "removes upstream's AWS foundation"},
    {"init", "provisions upstream's shared AWS network"},
    {"uninit", "removes upstream's shared AWS network"},
    {"info", "shows the AWS platform's accounts and spend"},
    {"roll", "rotates platform and sandbox credentials"},
    {"rsync", "saves and restores sandbox home directories"},
    {"otel", "shows AI spend and telemetry"},
    {"env", "prints the platform's environment"},
    {"email", "sends and reads mail between sandboxes"},
    {"slack", "wires sandboxes to Slack"},
    {"ami", "bakes and manages machine images"},
    {"vscode", "runs VS Code in a sandbox"},
    {"desktop", "runs a remote desktop in a sandbox"},
    {"model", "runs a model server in a sandbox"},
    {"capacity", "checks EC2 capacity"},
    {"cluster", "manages ECS clusters"},
    {"h1", "wires HackerOne"},
    {"check", "runs scheduled checks"},
    {"freeze", "freezes a sandbox's credentials"},
};

// Optimal string alignment distance (an adjacent swap counts one), for "did you mean".
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The message for a first word that is no command, or nullopt when it is one.
std::optional<std::string> unknownCommand(std::string_view word) {
  std::vector<std::string_view> known = {"help", "ls", "kill"};
  for (const Command& c : kCommands) known.push_back(c.name);
  for (std::string_view k : known) {
    if (k == word) return std::nullopt;
  }
  std::string shown = escapeForTerminal(word, /*keep_newlines=*/false);
  for (const Missing& m : kNotYet) {
    if (m.name == word) {
      return "\"" + shown + "\" is a command of upstream's km that this km does not have yet (there it " +
             std::string(m.what) + "); run 'km --help' for the commands this km has";
    }
  }
  std::string_view best;
  size_t best_distance = 3;  // suggest only close matches
  for (std::string_view k : known) {
    if (k == "supervise" || k == "fill-ca-pool") continue;  // internal
    size_t dist = editDistance(word, k);
    bool prefix = word.size() >= 2 && k.substr(0, word.size()) == word;
    if (prefix) dist = std::min<size_t>(dist, 1);
    if (dist < best_distance) {
      best_distance = dist;
      best = k;
    }
  }
  std::string msg = "no command \"" + shown + "\"";
  if (!best.empty()) return msg + "; did you mean \"" + std::string(best) + "\"?";
  return msg + "; run 'km --help' for the list";
}

// `km exec SB ls -la`: "-la" was taken for km's own option. Rebuilds the line with `--`
// after the sandbox so the user can copy it.
std::string execHint(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  size_t at = 0;
  while (at < words.size() && words[at] != "exec") ++at;
  size_t i = at + 1;
  for (; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--") return "";  // already there: the error is something else
    if (w == "-e" || w == "--env" || w == "-w" || w == "--workdir") {
      ++i;
      continue;
    }
    if (!w.empty() && w[0] == '-') continue;
    break;  // the sandbox
  }
  if (i + 1 >= words.size()) return "";
  std::string line = "km";
  for (size_t k = 0; k < words.size(); ++k) {
    line += " " + words[k];
    if (k == i) line += " --";
  }
  return "hint: options after the sandbox go to km unless a -- comes first: " +
         escapeForTerminal(line, /*keep_newlines=*/false);
}

int runParsed(int argc, char** argv) {
  if (wantsJson(argc, argv)) setJsonOutput(true);
  std::string_view word = commandWord(argc, argv);
  if (auto unknown = unknownCommand(word); unknown && !word.empty()) {
    printErr("ERROR: " + *unknown);
    return kExitUsage;
  }
  Globals globals;
  globals.home = defaultHome();
  if (const char* c = std::getenv("KM_CONFIG"); c && *c) globals.config_path = c;
  Context ctx(globals);

  CLI::App app{"km — run AI agents in sandboxes compiled from declarative profiles", "km"};
  app.set_version_flag("--version", std::string("km ") + KM_VERSION);
  app.fallthrough();
  app.require_subcommand(0, 1);
  app.add_flag("--json", globals.json, "Print data as JSON");
  app.add_option("--home", globals.home, "State directory (env KM_HOME, default /var/lib/km)");
  app.add_option("--config", globals.config_path,
                 "Operator config file (env KM_CONFIG, default $KM_HOME/config.yaml)");
  app.add_flag("-v,--verbose", globals.verbose, "More log output (repeat for debug)");
  // One directory per --profile-path: a vector option would otherwise swallow the words
  // after it (`km validate --profile-path DIR x.yaml`).
  app.add_option("--profile-path", globals.profile_paths,
                 "Extra directory searched for profiles and extends parents (repeatable)")
      ->type_name("DIR")
      ->allow_extra_args(false);
  app.footer("Run 'km help COMMAND' or 'km COMMAND --help' for a command's options.");

  // Declaring every command's options costs about a millisecond; a command named on the line
  // gets only its own. Help, completion, aliases and mistakes see the whole table.
  std::string_view named = word;
  bool only_named = false;
  for (const Command& c : kCommands) only_named |= c.name == named && named != "completion";
  std::vector<Handler> handlers;
  std::vector<CLI::App*> subs;
  std::vector<const Command*> installed;
  for (const Command& c : kCommands) {
    if (only_named && c.name != named) continue;
    CLI::App* sub = app.add_subcommand(std::string(c.name), std::string(c.help));
    subs.push_back(sub);
    installed.push_back(&c);
    handlers.push_back(c.install(*sub, ctx));
  }
  std::vector<std::string> help_topic;
  CLI::App* help = app.add_subcommand("help", "Show help for km or a command");
  help->add_option("command", help_topic, "Command (and subcommand) to explain");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    if (globals.json || wantsJson(argc, argv)) {
      doc::Node v = doc::Node::map();
      v.set("version", doc::Node::string(KM_VERSION));
      printOut(doc::toJson(v));
      return kExitOk;
    }
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where;
    for (CLI::App* s = &app; s;) {
      CLI::App* next = nullptr;
      for (CLI::App* child : s->get_subcommands()) next = child;
      if (next) where += " " + next->get_name();
      s = next;
    }
    std::string hint = where == " exec" ? execHint(argc, argv) : "";
    printErr("ERROR: " + std::string(e.what()) + (hint.empty() ? "" : "\n" + hint) + "\nRun 'km" + where +
             " --help' for usage.");
    return kExitUsage;
  }
  log::setVerbosity(globals.verbose);

  if (help->parsed()) {
    CLI::App* target = &app;
    std::string usage_name = "km";
    for (const auto& word : help_topic) {
      CLI::App* next = nullptr;
      try {
        next = target->get_subcommand(word);
      } catch (const CLI::OptionNotFound&) {
        printErr("ERROR: no command \"" + word + "\"; run 'km help' for the list");
        return kExitUsage;
      }
      target = next;
      usage_name += " " + word;
    }
    // Not target->help(): on the root that delegates to the parsed `help` subcommand and
    // would describe `km help` itself instead of km.
    printOut(target->get_formatter()->make_help(target, usage_name, CLI::AppFormatMode::Normal));
    return kExitOk;
  }
  for (size_t i = 0; i < subs.size(); ++i) {
    if (!subs[i]->parsed()) continue;
    if (installed[i]->setup == Setup::kConfig && !ctx.config()) return kExitFailed;
    return handlers[i]();
  }
  printOut(app.help());
  return kExitUsage;
}

}  // namespace

int run(int argc, char** argv) {
  // A sandbox's init started by a supervisor with threads (StagedInit::spawn): nothing of the
  // CLI runs in it.
  if (substrate::isHelperProcess(argc, argv)) substrate::helperMain();
  int code = guarded([&] { return runParsed(argc, argv); });
  finishOutput(code);
  return code;
}

}  // namespace km::cli
