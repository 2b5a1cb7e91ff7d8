#include "profile/profile.h"

#include "core/fs.h"
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
  std::string path;
  if (fs::exists(arg) && !fs::isDirectory(arg)) {
    path = arg;
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
      std::string candidate = fs::expandHome(dir) + "/" + arg + ".yaml";
      if (fs::exists(candidate)) {
        path = candidate;
        break;
      }
    }
  }
  if (path.empty()) {
    if (fs::isDirectory(arg)) return invalidArgument(arg + " is a directory; name a profile file");
    std::string names;
    for (const auto& n : builtinNames()) names += (names.empty() ? "" : ", ") + n;
    std::string looked;
    for (const auto& dir : options.search_paths) looked += ", " + fs::expandHome(dir) + "/" + arg + ".yaml";
    return notFound("no profile file or built-in named \"" + arg + "\" (looked for the file " + arg +
                    looked + "; built-ins: " + names +
                    "); add its directory with --profile-path or profileSearchPaths");
  }
  auto text = fs::readFile(path, 1 << 20);
  if (!text) return std::move(text).error();
  return loadText(*text, path, options);
}

doc::Node toNode(const Profile& p) { return encodeProfile(p); }

doc::Node jsonSchema() { return profileJsonSchema(); }

}  // namespace km::profile
