// The command table (private to cli): each entry adds its subcommand to the CLI11 app.
// `km --help`, `km help` and shell completion are generated from the app this builds.
#pragma once

#include <functional>
#include <string_view>

namespace CLI {
class App;
}

namespace km::cli {

class Context;

// What a command needs before it runs.
enum class Setup { kNone, kConfig };

// Runs the command after parsing; returns the exit code.
using Handler = std::function<int()>;

struct Command {
  std::string_view name;
  std::string_view help;
  Setup setup;
  // Declares the options and positionals of subcommand `sub` (already named) and returns
  // the handler that runs it once parsing succeeded.
  Handler (*install)(CLI::App& sub, Context& ctx);
};

Handler installValidate(CLI::App& sub, Context& ctx);
Handler installProfile(CLI::App& sub, Context& ctx);
Handler installSchema(CLI::App& sub, Context& ctx);
Handler installConfig(CLI::App& sub, Context& ctx);
Handler installCompletion(CLI::App& sub, Context& ctx);

inline constexpr Command kCommands[] = {
    {"validate", "Check profiles against the schema and semantic rules", Setup::kConfig,
     &installValidate},
    {"profile", "List, show and migrate profiles", Setup::kConfig, &installProfile},
    {"schema", "Print the JSON Schema of profiles (or of the operator config)", Setup::kNone,
     &installSchema},
    {"config", "Show the operator config", Setup::kConfig, &installConfig},
    {"completion", "Print a shell completion script (bash or zsh)", Setup::kNone,
     &installCompletion},
};

}  // namespace km::cli
