// km profile list | show | migrate.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <memory>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "core/fs.h"
#include "doc/json_io.h"
#include "doc/yaml_io.h"
#include "profile/profile.h"

namespace km::cli {
namespace {

struct ProfileArgs {
  std::string target;
  bool resolved = false;
  std::string format = "yaml";
  bool write = false;
  std::string out_file;
};

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

int runList(Context& ctx) {
  profile::LoadOptions options;
  auto paths = ctx.searchPaths();
  if (!paths) return kExitUsage;
  options.search_paths = *paths;
  std::vector<profile::CatalogEntry> rows = profile::listProfiles(options);
  if (ctx.globals().json) {
    doc::Node list = doc::Node::seq();
    for (const auto& r : rows) {
      doc::Node o = doc::Node::map();
      o.set("name", doc::Node::string(r.name));
      o.set("source", doc::Node::string(r.source));
      o.set("ttl", doc::Node::string(r.ttl));
      o.set("idleTimeout", doc::Node::string(r.idle_timeout));
      o.set("enforcement", doc::Node::string(r.enforcement));
      o.set("status", doc::Node::string(r.status));
      list.push(std::move(o));
    }
    printOut(doc::toJson(list));
    return kExitOk;
  }
  size_t wn = 4, ws = 6;
  for (const auto& r : rows) {
    wn = std::max(wn, r.name.size());
    ws = std::max(ws, r.source.size());
  }
  printOut(pad("NAME", wn + 2) + pad("SOURCE", ws + 2) + pad("TTL", 6) + pad("IDLE", 6) +
           pad("ENFORCEMENT", 13) + "STATUS");
  for (const auto& r : rows) {
    printOut(pad(r.name, wn + 2) + pad(r.source, ws + 2) + pad(r.ttl, 6) + pad(r.idle_timeout, 6) +
             pad(r.enforcement, 13) + r.status);
  }
  return kExitOk;
}

int runShow(const ProfileArgs& a, Context& ctx) {
  profile::LoadOptions options;
  auto paths = ctx.searchPaths();
  if (!paths) return kExitUsage;
  options.search_paths = *paths;
  options.resolve = a.resolved;
  auto l = profile::load(a.target, options);
  if (!l) {
    printErr("ERROR: " + l.error().message());
    return kExitFailed;
  }
  printDiagnostics(l->diagnostics, a.target);
  bool json = ctx.globals().json || a.format == "json";
  if (!l->ok()) {
    // The merge is what people need to see when it does not validate: print it as merged
    // (no defaults filled in), the problems are on stderr.
    bool have_document = l->document.isMap();
    if (a.resolved && have_document && !jsonOutput()) {
      printOut(json ? doc::toJson(l->document) : doc::emitYaml(l->document));
      printErr("ERROR: " + a.target + ": the merged profile above is not valid (" +
               std::to_string(l->diagnostics.errorCount()) + " problem" +
               (l->diagnostics.errorCount() == 1 ? "" : "s") + ")");
    } else {
      if (a.resolved && have_document) attachToError("document", l->document);
      attachToError("validation", validationReport(a.target, l));
      printErr("ERROR: " + a.target + " is not a valid profile");
    }
    return kExitFailed;
  }
  doc::Node out = l->document;
  if (a.resolved) {
    if (l->abstract) {
      printErr("ERROR: " + a.target + " is an abstract fragment; show a profile that extends it");
      return kExitFailed;
    }
    out = profile::toNode(profile::withDefaults(l->profile));
  }
  printOut(json ? doc::toJson(out) : doc::emitYaml(out));
  return kExitOk;
}

// --json with -w or -o: what was written, as an object.
void printWritten(const std::string& file, const std::string& output, bool migrated) {
  if (!jsonOutput()) return;
  doc::Node o = doc::Node::map();
  o.set("file", doc::Node::string(file));
  o.set("output", doc::Node::string(output));
  o.set("migrated", doc::Node::boolean(migrated));
  printOut(doc::toJson(o));
}

int runMigrate(const ProfileArgs& a) {
  auto text = fs::readFile(a.target, 1 << 20);
  if (!text) {
    printErr("ERROR: " + text.error().message());
    return kExitFailed;
  }
  profile::LoadOptions options;
  options.resolve = false;
  profile::Loaded l = profile::loadText(*text, a.target, options);
  printDiagnostics(l.diagnostics, a.target);
  if (!l.ok()) return kExitFailed;
  if (l.diagnostics.warningCount() == 0) {
    // Nothing moved: never rewrite the file (that would only drop its comments).
    printErr(a.target + ": already v1alpha2; nothing to migrate");
    if (a.write) {
      printWritten(a.target, a.target, false);
      return kExitOk;
    }
    if (!a.out_file.empty()) {
      // Scripts read -o's file next: give them the profile, byte for byte (comments kept).
      if (auto st = fs::writeFileAtomic(a.out_file, *text); !st) {
        printErr("ERROR: " + st.error().message());
        return kExitFailed;
      }
      printErr(a.target + ": copied unchanged to " + a.out_file);
      printWritten(a.target, a.out_file, false);
      return kExitOk;
    }
  }
  std::string yaml = doc::emitYaml(l.document);
  std::string dest = a.write ? a.target : a.out_file;
  if (dest.empty()) {
    printOut(jsonOutput() ? doc::toJson(l.document) : yaml);
    return kExitOk;
  }
  if (auto st = fs::writeFileAtomic(dest, yaml); !st) {
    printErr("ERROR: " + st.error().message());
    return kExitFailed;
  }
  printErr(a.target + ": wrote the v1alpha2 profile to " + dest);
  printWritten(a.target, dest, true);
  return kExitOk;
}

}  // namespace

Handler installProfile(CLI::App& sub, Context& ctx) {
  auto args = std::make_shared<ProfileArgs>();
  sub.require_subcommand(1);
  CLI::App* list = sub.add_subcommand("list", "List built-in profiles and those on the search path");
  list->alias("ls");
  list->footer(
      "Lists the built-ins, then every *.yaml under --profile-path and profileSearchPaths "
      "(recursively), each loaded and checked: STATUS is valid, invalid, abstract or unreadable. "
      "Exit status 0 even when some rows are invalid; use km validate to fail on them.");
  CLI::App* show = sub.add_subcommand("show", "Print a profile (as written, or resolved)");
  show->add_option("profile", args->target, "Profile file or name")->required()->type_name("FILE|NAME");
  show->add_flag("--resolved", args->resolved, "After extends, v1alpha1 migration and defaults");
  show->add_option("-o,--output", args->format, "yaml (default) or json")
      ->check(CLI::IsMember({"yaml", "json"}));
  show->footer(
      "Without --resolved prints the file as written (v1alpha1 migrated in memory) without "
      "validating it. With --resolved: extends merged, validated and upstream's defaults filled "
      "in; a merge that does not validate is still printed (as merged, without defaults), its "
      "located errors on stderr, exit 1 (with --json: the error object carries the merged "
      "\"document\" and the \"validation\" report).");
  CLI::App* migrate = sub.add_subcommand("migrate", "Rewrite a v1alpha1 profile as v1alpha2");
  migrate->add_option("file", args->target, "Profile file")->required()->type_name("FILE");
  migrate->add_flag("-w,--write", args->write, "Replace FILE instead of printing");
  migrate->add_option("-o,--output-file", args->out_file, "Write to this file instead of printing");
  migrate->footer(
      "Moves spec.identity to spec.iam, the cli.notify* fields to spec.notification, "
      "cli.vscodeEnabled/agent/claudeArgs/codexArgs to runtime.vscode and spec.agent, and lifts "
      "an inlined Claude settings.json into spec.agent.claude. spec.identity.sessionPolicy and the old "
      "agent fields (maxConcurrentTasks, taskTimeout, allowedTools) are dropped; allowedTools is "
      "not turned into auto-approval. Where the new field is already set, it wins. Prints a "
      "warning per moved field. Comments are not kept. An already-v1alpha2 file is left untouched.");
  return [=, &ctx] {
    if (list->parsed()) return runList(ctx);
    if (show->parsed()) return runShow(*args, ctx);
    if (migrate->parsed()) return runMigrate(*args);
    return kExitUsage;
  };
}

}  // namespace km::cli
