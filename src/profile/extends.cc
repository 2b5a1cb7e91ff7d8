#include "profile/extends.h"

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/fs.h"
#include "core/strings.h"
#include "doc/yaml_io.h"
#include "profile/builtins.h"
#include "profile/profile.h"

namespace km::profile {

using doc::Node;

namespace {

// Equal for scalars that Node::sameValue calls equal (booleans by value, others by kind and
// text); nullopt for sequences and mappings, which need the deep comparison.
std::optional<std::string> scalarKey(const Node& n) {
  switch (n.kind()) {
    case Node::Kind::kNull: return std::string("~");
    case Node::Kind::kBool: return std::string(n.asBool() ? "b1" : "b0");
    case Node::Kind::kSeq:
    case Node::Kind::kMap: return std::nullopt;
    default: return static_cast<char>('0' + static_cast<int>(n.kind())) + n.text();
  }
}

}  // namespace

std::optional<Node> readDocument(std::string_view text, const std::string& display,
                                 doc::Diagnostics& diags) {
  Node root;
  if (!doc::parseYaml(text, display, root, diags)) return std::nullopt;
  if (!root.isMap()) {
    diags.error(root.mark(), "",
                "a profile is a YAML mapping with apiVersion, kind, metadata and spec; this "
                "document is " + std::string(root.kindName()));
    return std::nullopt;
  }
  migrateDocument(root, diags);
  return root;
}

Node mergeNodes(const Node& base, const Node& over) {
  if (base.isMap() && over.isMap()) {
    Node out = base;
    out.setMark(over.mark().line ? over.mark() : base.mark());
    for (const auto& e : over.entries()) {
      if (Node* existing = out.find(e.key)) {
        *existing = mergeNodes(*existing, e.value);
        for (auto& oe : out.entries())
          if (oe.key == e.key) oe.key_mark = e.key_mark;
      } else {
        out.entries().push_back(e);
      }
    }
    return out;
  }
  if (base.isSeq() && over.isSeq()) {
    // Starting from an empty list drops duplicates within `base` too.
    Node empty = Node::seq(over.mark().line ? over.mark() : base.mark());
    return appendUnique(appendUnique(empty, base), over);
  }
  return over;
}

Node appendUnique(const Node& list, const Node& more) {
  Node out = list;
  std::unordered_set<std::string> scalars;
  std::vector<size_t> nested;  // indices in `out` of sequence and mapping items
  for (size_t i = 0; i < out.items().size(); ++i) {
    if (auto key = scalarKey(out.items()[i])) {
      scalars.insert(std::move(*key));
    } else {
      nested.push_back(i);
    }
  }
  for (const Node& item : more.items()) {
    if (auto key = scalarKey(item)) {
      if (!scalars.insert(std::move(*key)).second) continue;
    } else {
      bool have = false;
      for (size_t i : nested) have = have || out.items()[i].sameValue(item);
      if (have) continue;
      nested.push_back(out.items().size());
    }
    out.push(item);
  }
  return out;
}

void foldInitCommandsAppend(Node& root) {
  Node* spec = root.find("spec");
  if (!spec || !spec->isMap()) return;
  Node* exec = spec->find("execution");
  if (!exec || !exec->isMap()) return;
  Node* append = exec->find("initCommandsAppend");
  if (!append) return;
  if (!append->isSeq()) return;  // left for the schema check to report
  Node extra = *append;
  exec->erase("initCommandsAppend");
  Node* cmds = exec->find("initCommands");
  if (!cmds) {
    exec->set("initCommands", Node::seq(extra.mark()));
    cmds = exec->find("initCommands");
  }
  if (!cmds->isSeq()) return;
  *cmds = mergeNodes(*cmds, extra);
}

std::optional<Document> ExtendsResolver::find(const std::string& name,
                                              const std::string& declaring_dir,
                                              std::vector<std::string>& tried) {
  if (const std::string_view* text = builtinYaml(name)) {
    auto root = readDocument(*text, builtinKey(name), diags_);
    if (!root) return std::nullopt;
    return Document{builtinKey(name), builtinKey(name), "", std::move(*root)};
  }
  tried.push_back("built-ins");
  std::string file = endsWith(name, ".yaml") || endsWith(name, ".yml") ? name : name + ".yaml";
  std::vector<std::string> dirs;
  if (!declaring_dir.empty()) dirs.push_back(declaring_dir);
  for (const auto& p : search_paths_) dirs.push_back(fs::expandHome(p));
  for (const auto& dir : dirs) {
    std::string path = file[0] == '/' ? file : (dir == "." ? file : dir + "/" + file);
    tried.push_back(path);
    if (!fs::exists(path) || fs::isDirectory(path)) continue;
    std::string key = fs::absolutePath(path);
    auto text = fs::readFile(path, 1 << 20);
    if (!text) {
      diags_.error(doc::Mark{std::make_shared<const std::string>(path), 0, 0}, "",
                   text.error().message());
      tried.clear();  // found but unreadable: reported here, not "not found"
      return std::nullopt;
    }
    auto root = readDocument(*text, path, diags_);
    if (!root) {
      tried.clear();  // found but not a profile: readDocument reported why
      return std::nullopt;
    }
    return Document{key, path, fs::dirName(path), std::move(*root)};
  }
  return std::nullopt;
}

std::optional<Node> ExtendsResolver::resolveDocument(const Document& d, std::vector<Link>& chain) {
  if (auto it = memo_.find(d.key); it != memo_.end()) return it->second;
  const Node* ext = d.root.find("extends");
  if (!ext) {
    memo_[d.key] = d.root;
    return d.root;
  }
  // Collect the parent names with the node that named each (for error locations).
  std::vector<std::pair<std::string, const Node*>> parents;
  std::vector<std::string> paths;
  if (ext->kind() == Node::Kind::kString) {
    parents.emplace_back(ext->text(), ext);
    paths.push_back("extends");
  } else if (ext->isSeq()) {
    for (size_t i = 0; i < ext->items().size(); ++i) {
      const Node& item = ext->items()[i];
      if (item.kind() != Node::Kind::kString || item.text().empty()) {
        diags_.error(item.mark(), doc::indexPath("extends", i),
                     "expected a profile name, got " + std::string(item.kindName()));
        continue;
      }
      parents.emplace_back(item.text(), &item);
      paths.push_back(doc::indexPath("extends", i));
    }
  } else {
    diags_.error(ext->mark(), "extends",
                 "expected a profile name or a list of names, got " + std::string(ext->kindName()));
  }
  if (ext->isSeq() && ext->items().empty()) {
    // `extends: []` names no parents: upstream treats the document as a base, so its
    // initCommandsAppend waits for the profile that extends it.
    Node base = d.root;
    base.erase("extends");
    memo_[d.key] = base;
    return base;
  }

  auto chainText = [&](const std::string& last) {
    std::string s;
    for (const auto& l : chain) s += l.display + " → ";
    return s + last;
  };

  Node acc = Node::map();
  bool complete = true;
  for (size_t i = 0; i < parents.size(); ++i) {
    const auto& [name, at] = parents[i];
    std::vector<std::string> tried;
    auto parent = find(name, d.dir, tried);
    if (!parent) {
      complete = false;
      if (tried.empty()) continue;  // found but unreadable: already reported
      diags_.error(at->mark(), paths[i],
                   "profile \"" + name + "\" not found (looked in " + join(tried, ", ") +
                       "); add its directory with --profile-path or profileSearchPaths");
      continue;
    }
    bool cycle = false;
    for (const auto& l : chain)
      if (l.key == parent->key) cycle = true;
    if (cycle) {
      complete = false;
      diags_.error(at->mark(), paths[i], "circular extends: " + chainText(parent->display));
      continue;
    }
    if (chain.size() > kMaxExtendsDepth) {
      complete = false;
      diags_.error(at->mark(), paths[i],
                   "inheritance depth exceeded (at most " + std::to_string(kMaxExtendsDepth) +
                       " levels of extends): " + chainText(parent->display));
      continue;
    }
    chain.push_back({parent->key, parent->display});
    auto resolved = resolveDocument(*parent, chain);
    chain.pop_back();
    if (!resolved) {
      complete = false;
      continue;
    }
    acc = mergeNodes(acc, *resolved);
  }
  Node merged = mergeNodes(acc, d.root);
  merged.erase("extends");
  if (Node* md = merged.find("metadata"); md && md->isMap()) md->erase("abstract");
  foldInitCommandsAppend(merged);
  if (!complete) return merged;  // errors reported; don't memoise a partial result
  memo_[d.key] = merged;
  return merged;
}

Node ExtendsResolver::resolve(const Document& leaf) {
  std::vector<Link> chain{{leaf.key, leaf.display}};
  auto r = resolveDocument(leaf, chain);
  return r ? std::move(*r) : leaf.root;
}

}  // namespace km::profile
