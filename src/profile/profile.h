// km::profile — SandboxProfile documents: load (YAML with line:column), migrate v1alpha1,
// resolve `extends`, validate (schema + semantic rules), apply defaults, print, and the
// JSON Schema. Every problem is collected as a located Diagnostic; nothing stops at the
// first error. Functions are thread-safe (no shared mutable state).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "doc/diagnostic.h"
#include "doc/node.h"
#include "profile/types.h"

namespace km::profile {

struct LoadOptions {
  // Directories searched for `extends` names (after built-ins and the declaring file's
  // directory) and for NAME arguments that are neither files nor built-ins.
  std::vector<std::string> search_paths;
  // Run the semantic rules (ttl ≥ idle, Slack, desktop, snapshots...) after the schema.
  bool semantics = true;
  // false: only read and migrate the file itself (no extends, no validation).
  bool resolve = true;
};

struct Loaded {
  std::string source;     // what the user named: the path as given, or the built-in's name
  bool abstract = false;  // metadata.abstract: true in the file itself (validate skips it)
  doc::Node document;     // after migration and extends, before defaults
  Profile profile;        // decoded from `document` (partial when there are errors)
  doc::Diagnostics diagnostics;
  bool ok() const { return !diagnostics.hasErrors(); }
};

// Loads FILE or NAME. An explicit path (/…, ./…, ../…, ~/…) is only that file. An argument
// with a '/' or ending in .yaml/.yml is a file relative to the cwd, else under each search
// path (".yaml" added once when it has no such ending). Any other is a name: a built-in, else
// NAME.yaml in the search paths (else a file by exactly that name in the cwd). Migrates v1alpha1 (warnings name each moved field), resolves extends, decodes
// and validates. Abstract fragments are loaded but not validated (`abstract` set).
// NotFound when nothing by that name exists; every other problem is in `diagnostics`.
[[nodiscard]] Result<Loaded> load(std::string_view file_or_name, const LoadOptions& options);

// Loads from text already in memory (`source` names it in messages).
Loaded loadText(std::string_view yaml, std::string source, const LoadOptions& options);

// The profile with upstream's defaults made explicit (enforcement proxy, prefix sb, warning
// threshold 0.8, vscode on, ...) and initCommandsAppend folded into initCommands.
Profile withDefaults(Profile p);

// Rendering of a (decoded) profile in schema field order.
doc::Node toNode(const Profile& p);

// The built-in profiles, in upstream's fixed order.
std::vector<std::string> builtinNames();
bool isBuiltin(std::string_view name);

// One row of `km profile list`. Fields are display text: "-" where a value does not apply.
struct CatalogEntry {
  std::string name;          // built-in name, or path under its search dir without ".yaml"
  std::string source;        // "built-in" or the file path
  std::string ttl;           // spec.lifecycle.ttl
  std::string idle_timeout;  // spec.lifecycle.idleTimeout
  std::string enforcement;   // spec.network.enforcement (default proxy)
  // valid | invalid | abstract | unreadable, plus ", shadowed by built-in" for a file whose
  // name is a built-in's (built-ins win, as in extends).
  std::string status;
};

// Every profile km can see: the built-ins in upstream's order, then each *.yaml under each
// search path (recursively, at most 6 levels, names sorted; each directory scanned once even
// through symlink loops), each loaded and checked. YAML that is not a profile (a mapping with
// neither apiVersion nor kind) is skipped. Unreadable directories are skipped silently;
// never fails. The caller owns the rows.
std::vector<CatalogEntry> listProfiles(const LoadOptions& options);

// JSON Schema (draft 2020-12) of SandboxProfile, generated from the field descriptions.
doc::Node jsonSchema();

// The size of an EC2 instance type (runtime.instanceType), as far as km knows it offline.
struct InstanceShape {
  int vcpus = 0;
  int memory_mib = 0;  // MiB, so t3.nano's 0.5 GiB is exact
};
// The shape of a t2/t3/t3a/t4g (nano … 2xlarge), m5 (large … 8xlarge), c5 (large … 9xlarge)
// or r5 (large … 4xlarge) instance type; nullopt for any other type (callers fail open).
// Pure lookup, thread-safe.
std::optional<InstanceShape> instanceShape(std::string_view instance_type);

// v1alpha1 → v1alpha2 in place. Returns true when the document was v1alpha1 (then
// `notes` holds a warning per moved or dropped field). Idempotent.
bool migrateDocument(doc::Node& document, doc::Diagnostics& notes);

}  // namespace km::profile
