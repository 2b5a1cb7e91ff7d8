// km validate FILE|NAME... — upstream's output: "<file>: valid", "<file>: valid (with
// warnings)", a SKIP line for abstract fragments, "ERROR: file:line:col: path: message" on
// stderr; exit 1 if any file is invalid. --json: one object per file, one per line.
#include <CLI/CLI.hpp>

#include <memory>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "doc/json_io.h"
#include "profile/profile.h"

namespace km::cli {
namespace {

struct ValidateArgs {
  std::vector<std::string> files;
};

int runValidate(const ValidateArgs& args, Context& ctx) {
  profile::LoadOptions options;
  options.search_paths = ctx.searchPaths();
  bool all_valid = true;
  for (const auto& file : args.files) {
    doc::Node report = doc::Node::map();
    report.set("file", doc::Node::string(file));
    auto loaded = profile::load(file, options);
    if (!loaded) {
      all_valid = false;
      doc::Diagnostics d;
      d.add({doc::Diagnostic::Severity::kError, file, 0, 0, "", loaded.error().message()});
      if (ctx.globals().json) {
        report.set("valid", doc::Node::boolean(false));
        report.set("skipped", doc::Node::boolean(false));
        report.set("errors", diagnosticsToJson(d, true, file));
        report.set("warnings", doc::Node::seq());
        printOut(doc::toJson(report, -1));
      } else {
        printDiagnostics(d, file);
      }
      continue;
    }
    const profile::Loaded& l = *loaded;
    bool skipped = l.abstract && l.ok();
    bool valid = l.ok() && !skipped;
    if (!l.ok()) all_valid = false;
    if (ctx.globals().json) {
      report.set("valid", doc::Node::boolean(valid));
      report.set("skipped", doc::Node::boolean(skipped));
      report.set("errors", diagnosticsToJson(l.diagnostics, true, file));
      report.set("warnings", diagnosticsToJson(l.diagnostics, false, file));
      printOut(doc::toJson(report, -1));
      continue;
    }
    printDiagnostics(l.diagnostics, file);
    if (skipped) {
      printOut("SKIP: " + file + ": abstract fragment (metadata.abstract: true), checked through the profiles that extend it");
    } else if (valid) {
      printOut(file + (l.diagnostics.warningCount() ? ": valid (with warnings)" : ": valid"));
    }
  }
  return all_valid ? kExitOk : kExitFailed;
}

}  // namespace

Handler installValidate(CLI::App& sub, Context& ctx) {
  auto args = std::make_shared<ValidateArgs>();
  sub.add_option("profiles", args->files, "Profile files or names (built-in or on the search path)")
      ->required()
      ->type_name("FILE|NAME");
  sub.footer(
      "Checks each profile: YAML syntax, the SandboxProfile schema (unknown fields, types, "
      "enums, patterns) and upstream's semantic rules. Resolves extends (built-ins first, then "
      "the file's directory, --profile-path and profileSearchPaths). v1alpha1 profiles are "
      "migrated in memory with a warning per moved field. Abstract fragments are skipped. "
      "Exit status 1 if any profile is invalid; warnings never fail.");
  return [args, &ctx] { return runValidate(*args, ctx); };
}

}  // namespace km::cli
