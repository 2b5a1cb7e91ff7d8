// km schema [profile|config] — JSON Schema generated from km's own types.
#include <CLI/CLI.hpp>

#include <memory>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "config/config.h"
#include "doc/json_io.h"
#include "profile/profile.h"

namespace km::cli {

Handler installSchema(CLI::App& sub, Context&) {
  auto which = std::make_shared<std::string>("profile");
  sub.add_option("document", *which, "profile (default) or config")
      ->check(CLI::IsMember({"profile", "config"}));
  sub.footer(
      "Use it with yaml-language-server: put '# yaml-language-server: $schema=<file>' at the top "
      "of a profile after 'km schema > km-profile.schema.json'.");
  return [which] {
    printOut(doc::toJson(*which == "config" ? config::jsonSchema() : profile::jsonSchema()));
    return kExitOk;
  };
}

}  // namespace km::cli
