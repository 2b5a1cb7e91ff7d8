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
Handler installConfigure(CLI::App& sub, Context& ctx);
Handler installCompletion(CLI::App& sub, Context& ctx);
Handler installCreate(CLI::App& sub, Context& ctx);
Handler installList(CLI::App& sub, Context& ctx);
Handler installStatus(CLI::App& sub, Context& ctx);
Handler installExec(CLI::App& sub, Context& ctx);
Handler installShell(CLI::App& sub, Context& ctx);
Handler installStop(CLI::App& sub, Context& ctx);
Handler installResume(CLI::App& sub, Context& ctx);
Handler installPause(CLI::App& sub, Context& ctx);
Handler installLock(CLI::App& sub, Context& ctx);
Handler installUnlock(CLI::App& sub, Context& ctx);
Handler installFreeze(CLI::App& sub, Context& ctx);
Handler installExtend(CLI::App& sub, Context& ctx);
Handler installBudget(CLI::App& sub, Context& ctx);
Handler installClone(CLI::App& sub, Context& ctx);
Handler installDestroy(CLI::App& sub, Context& ctx);
Handler installDoctor(CLI::App& sub, Context& ctx);
Handler installLogs(CLI::App& sub, Context& ctx);
Handler installAgent(CLI::App& sub, Context& ctx);
Handler installSupervise(CLI::App& sub, Context& ctx);
Handler installFillCaPool(CLI::App& sub, Context& ctx);
Handler installImage(CLI::App& sub, Context& ctx);

inline constexpr Command kCommands[] = {
    {"validate", "Check profiles against the schema and semantic rules", Setup::kConfig,
     &installValidate},
    {"profile", "List, show and migrate profiles", Setup::kConfig, &installProfile},
    {"schema", "Print the JSON Schema of profiles (or of the operator config)", Setup::kNone,
     &installSchema},
    {"config", "Show the operator config", Setup::kConfig, &installConfig},
    {"configure", "Store operator settings: configure github (App or token for sandboxes' repos)", Setup::kNone,
     &installConfigure},
    {"create", "Create and start a sandbox from a profile", Setup::kConfig, &installCreate},
    {"list", "List sandboxes (alias: ls)", Setup::kNone, &installList},
    {"status", "Show one sandbox in detail", Setup::kNone, &installStatus},
    {"exec", "Run a command inside a sandbox", Setup::kNone, &installExec},
    {"shell", "Open a shell inside a sandbox", Setup::kNone, &installShell},
    {"stop", "Stop a sandbox's processes, keep its files", Setup::kNone, &installStop},
    {"resume", "Resume a paused or stopped sandbox", Setup::kNone, &installResume},
    {"pause", "Freeze a sandbox (memory kept)", Setup::kNone, &installPause},
    {"lock", "Protect a sandbox from destroy, stop and pause", Setup::kNone, &installLock},
    {"unlock", "Remove the lock; lift a freeze of outbound actions", Setup::kNone, &installUnlock},
    {"freeze", "Refuse a sandbox's outbound actions counted by spec.limits (km unlock lifts it)", Setup::kNone,
     &installFreeze},
    {"extend", "Move a sandbox's TTL deadline later", Setup::kNone, &installExtend},
    {"budget", "Top up a sandbox's AI or compute budget (budget add)", Setup::kNone, &installBudget},
    {"clone", "Copy a sandbox into new ones", Setup::kNone, &installClone},
    {"destroy", "Destroy a sandbox and everything it made (alias: kill)", Setup::kNone,
     &installDestroy},
    {"logs", "Show a sandbox's logs (events, supervisor, --commands, --network, --init)", Setup::kNone,
     &installLogs},
    {"agent", "Run agents in a sandbox: run, list, attach, results; SB --claude", Setup::kNone, &installAgent},
    {"image", "OS images for sandboxes' roots: pull, list, rm, prune, bake, push", Setup::kConfig, &installImage},
    {"doctor", "Check what the host enforces; find and fix drift", Setup::kNone, &installDoctor},
    {"supervise", "(internal) run a sandbox's supervisor", Setup::kNone, &installSupervise},
    {"fill-ca-pool", "(internal) make spare sandbox CAs ahead of need", Setup::kNone, &installFillCaPool},
    {"completion", "Print a shell completion script (bash or zsh)", Setup::kNone,
     &installCompletion},
};

}  // namespace km::cli
