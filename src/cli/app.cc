// Wires the command table into CLI11 and maps its outcomes to exit codes. The only file
// that catches CLI11's exceptions.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <exception>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "core/fs.h"
#include "core/log.h"

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

std::vector<std::string> Context::searchPaths() {
  std::vector<std::string> out = globals_.profile_paths;
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

int runParsed(int argc, char** argv) {
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
  app.add_option("--profile-path", globals.profile_paths,
                 "Extra directory searched for profiles and extends parents (repeatable)")
      ->type_name("DIR");
  app.footer("Run 'km help COMMAND' or 'km COMMAND --help' for a command's options.");

  // Declaring every command's options costs about a millisecond; a command named on the line
  // gets only its own. Help, completion, aliases and mistakes see the whole table.
  std::string_view named = commandWord(argc, argv);
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
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where;
    for (CLI::App* s = &app; s;) {
      CLI::App* next = nullptr;
      for (CLI::App* child : s->get_subcommands()) next = child;
      if (next) where += " " + next->get_name();
      s = next;
    }
    printErr("ERROR: " + std::string(e.what()));
    printErr("Run 'km" + where + " --help' for usage.");
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
  return guarded([&] { return runParsed(argc, argv); });
}

}  // namespace km::cli
