// km config show — the operator config in effect (written values plus defaults).
#include <CLI/CLI.hpp>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "doc/json_io.h"
#include "doc/yaml_io.h"

namespace km::cli {

Handler installConfig(CLI::App& sub, Context& ctx) {
  sub.require_subcommand(1);
  CLI::App* show = sub.add_subcommand("show", "Print the operator config in effect, defaults filled in");
  show->footer("Reads --config, KM_CONFIG or $KM_HOME/config.yaml (a missing default file means all defaults).");
  return [show, &ctx] {
    if (!show->parsed()) return kExitUsage;
    const config::Config* c = ctx.config();
    if (!c) return kExitFailed;
    doc::Node n = config::toNode(*c);
    printOut(ctx.globals().json ? doc::toJson(n) : doc::emitYaml(n));
    return kExitOk;
  };
}

}  // namespace km::cli
