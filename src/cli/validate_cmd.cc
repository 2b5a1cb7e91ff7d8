// km validate FILE|NAME... — upstream's output: "<file>: valid", "<file>: valid (with
// warnings)", a SKIP line for abstract fragments, "ERROR: file:line:col: path: message" on
// stderr; exit 1 if any file is invalid. --json: an array of reports, one per argument.
#include <CLI/CLI.hpp>

#include <memory>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "cli/sops_bundle.h"
#include "doc/json_io.h"
#include "profile/profile.h"

namespace km::cli {

doc::Node validationReport(std::string_view file, const Result<profile::Loaded>& loaded) {
  doc::Node report = doc::Node::map();
  report.set("file", doc::Node::string(std::string(file)));
  if (!loaded) {
    doc::Diagnostics d;
    d.add({doc::Diagnostic::Severity::kError, std::string(file), 0, 0, "", loaded.error().message()});
    report.set("valid", doc::Node::boolean(false));
    report.set("skipped", doc::Node::boolean(false));
    report.set("errors", diagnosticsToJson(d, true, file));
    report.set("warnings", doc::Node::seq());
    return report;
  }
  bool skipped = loaded->abstract && loaded->ok();
  report.set("valid", doc::Node::boolean(loaded->ok() && !skipped));
  report.set("skipped", doc::Node::boolean(skipped));
  report.set("errors", diagnosticsToJson(loaded->diagnostics, true, file));
  report.set("warnings", diagnosticsToJson(loaded->diagnostics, false, file));
  return report;
}

namespace {

struct ValidateArgs {
  std::vector<std::string> files;
};

// Each key of the SOPS bundle that spec.secrets.hosts does not bind reaches the sandbox as it
// is (as upstream gives it): a warning per key. The key names are read without decrypting.
void warnUnboundSecrets(profile::Loaded& l) {
  const auto& spec = l.profile.spec;
  for (const auto& key : bundleKeys(spec, l.source)) {
    bool bound = false;
    for (const auto& [name, hosts] : spec.secrets->hosts) bound = bound || name == key;
    if (bound) continue;
    const doc::Node* at = doc::locate(l.document, "spec.secrets.sopsFile");
    l.diagnostics.warning(at ? at->mark() : doc::Mark{}, "spec.secrets.sopsFile",
                          key + " from the bundle is given to the sandbox as it is (as upstream does); bind it in "
                                "spec.secrets.hosts to the hosts it is for, and the sandbox holds only a sentinel");
  }
}

int runValidate(const ValidateArgs& args, Context& ctx) {
  profile::LoadOptions options;
  auto paths = ctx.searchPaths();
  if (!paths) return kExitUsage;
  options.search_paths = *paths;
  bool all_valid = true;
  bool json = ctx.globals().json;
  doc::Node reports = doc::Node::seq();
  for (const auto& file : args.files) {
    auto loaded = profile::load(file, options);
    if (loaded && loaded->ok()) warnUnboundSecrets(*loaded);
    if (json) reports.push(validationReport(file, loaded));
    if (!loaded) {
      all_valid = false;
      if (!json) printErr("ERROR: " + file + ": " + loaded.error().message());
      continue;
    }
    const profile::Loaded& l = *loaded;
    bool skipped = l.abstract && l.ok();
    bool valid = l.ok() && !skipped;
    if (!l.ok()) all_valid = false;
    if (json) continue;
    printDiagnostics(l.diagnostics, file);
    if (skipped) {
      printOut("SKIP: " + file + ": abstract fragment (metadata.abstract: true), checked through the profiles that extend it");
    } else if (valid) {
      printOut(file + (l.diagnostics.warningCount() ? ": valid (with warnings)" : ": valid"));
    }
  }
  if (json) printOut(doc::toJson(reports));
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
      "An argument with a / or ending in .yaml/.yml is a file (relative to the current directory, "
      "else looked up in the search path); any other is a built-in or NAME.yaml on the search path. "
      "Exit status 1 if any profile is invalid; warnings never fail. --json: an array with one "
      "report per argument: {file, valid, skipped, errors, warnings}, each problem "
      "{file, path, line, column, message}.");
  return [args, &ctx] { return runValidate(*args, ctx); };
}

}  // namespace km::cli
