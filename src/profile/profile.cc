#include "profile/profile.h"

#include "core/fs.h"
#include "core/strings.h"
#include "profile/builtins.h"
#include "profile/extends.h"
#include "profile/schema.h"
#include "profile/semantic.h"

namespace km::profile {
namespace {

bool isAbstract(const doc::Node& root) {
  const doc::Node* md = root.find("metadata");
  const doc::Node* a = md && md->isMap() ? md->find("abstract") : nullptr;
  return a && a->kind() == doc::Node::Kind::kBool && a->asBool();
}

Loaded finish(Document leaf, std::string source, const LoadOptions& options, Loaded out) {
  out.source = std::move(source);
  out.abstract = isAbstract(leaf.root);
  if (out.abstract || !options.resolve) {
    out.document = leaf.root;
    return out;
  }
  if (leaf.root.find("extends")) {
    size_t errors_before = out.diagnostics.errorCount();
    ExtendsResolver resolver(options.search_paths, out.diagnostics);
    out.document = resolver.resolve(leaf);
    // With a parent missing, cyclic or too deep the merged document lacks whole sections:
    // still report what is wrong in what was written (unknown fields, bad values), but not
    // "required field missing" noise or rules that need the whole profile.
    if (out.diagnostics.errorCount() > errors_before) {
      out.profile = decodeProfile(out.document, out.diagnostics, /*check_required=*/false);
      return out;
    }
  } else {
    out.document = std::move(leaf.root);
  }
  out.profile = decodeProfile(out.document, out.diagnostics);
  if (options.semantics) checkSemantics(out.profile, out.document, out.diagnostics);
  return out;
}

}  // namespace

Loaded loadText(std::string_view yaml, std::string source, const LoadOptions& options) {
  Loaded out;
  auto root = readDocument(yaml, source, out.diagnostics);
  if (!root) {
    out.source = std::move(source);
    return out;
  }
  Document leaf{fs::absolutePath(source), source, fs::dirName(source), std::move(*root)};
  return finish(std::move(leaf), std::move(source), options, std::move(out));
}

Result<Loaded> load(std::string_view file_or_name, const LoadOptions& options) {
  std::string arg(file_or_name);
  if (arg.empty()) return invalidArgument("an empty profile name; give a file or a name");
  // An explicit path (/…, ./…, ../…, ~/…) is only that file. Another argument with a '/' or a
  // .yaml/.yml ending is a file relative to the current directory, then the same under each
  // search path (a name `km profile list` shows, like team/dev, gets .yaml added once). Any
  // other argument is a name: a built-in, else NAME.yaml in the search path.
  bool explicit_path = arg[0] == '/' || arg.rfind("./", 0) == 0 || arg.rfind("../", 0) == 0 ||
                       arg.rfind("~/", 0) == 0;
  bool has_ext = endsWith(arg, ".yaml") || endsWith(arg, ".yml");
  bool is_file = explicit_path || has_ext || arg.find('/') != std::string::npos;
  std::vector<std::string> looked;
  std::string path;
  auto tryPath = [&](const std::string& candidate) {
    looked.push_back(candidate);
    if (fs::exists(candidate) && !fs::isDirectory(candidate)) path = candidate;
    return !path.empty();
  };
  std::string given = explicit_path ? fs::expandHome(arg) : arg;
  if (is_file) {
    if (fs::isDirectory(given)) return invalidArgument(arg + " is a directory; name a profile file");
    if (!tryPath(given) && !explicit_path) {
      for (const auto& dir : options.search_paths) {
        if (tryPath(fs::expandHome(dir) + "/" + arg + (has_ext ? "" : ".yaml"))) break;
      }
    }
  } else if (const std::string_view* text = builtinYaml(arg)) {
    Loaded out;
    auto root = readDocument(*text, builtinKey(arg), out.diagnostics);
    if (!root) {
      out.source = arg;
      return out;
    }
    Document leaf{builtinKey(arg), builtinKey(arg), "", std::move(*root)};
    return finish(std::move(leaf), arg, options, std::move(out));
  } else {
    for (const auto& dir : options.search_paths) {
      if (tryPath(fs::expandHome(dir) + "/" + arg + ".yaml")) break;
    }
    // A file by exactly that name in the current directory, last (it used to be first).
    if (path.empty() && fs::exists(arg) && !fs::isDirectory(arg)) path = arg;
  }
  if (path.empty()) {
    std::string where;
    for (const auto& l : looked) where += (where.empty() ? "" : ", ") + l;
    if (is_file) {
      return notFound("no profile file " + arg + " (looked for " + where + ")" +
                      (explicit_path ? "; check the path"
                                     : "; check the name or add its directory with --profile-path"));
    }
    std::string names;
    for (const auto& n : builtinNames()) names += (names.empty() ? "" : ", ") + n;
    return notFound("no profile named \"" + arg + "\": not a built-in (" + names + ")" +
                    (where.empty() ? " and no search path is set" : " and not found as " + where) +
                    "; give a file path, or add its directory with --profile-path or profileSearchPaths");
  }
  auto text = fs::readFile(path, 1 << 20);
  if (!text) return std::move(text).error();
  return loadText(*text, path, options);
}

doc::Node toNode(const Profile& p) { return encodeProfile(p); }

doc::Node jsonSchema() { return profileJsonSchema(); }

}  // namespace km::profile
