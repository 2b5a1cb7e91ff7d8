// `extends` resolution (private to profile): finds parents, folds them left to right with the
// child last, and reports missing parents, cycles and chains deeper than 10 with the chain.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "doc/diagnostic.h"
#include "doc/node.h"

namespace km::profile {

inline constexpr size_t kMaxExtendsDepth = 10;

// One profile document as read from a file or the built-ins (already migrated).
struct Document {
  std::string key;      // identity for cycles and memoisation: absolute path or builtin:NAME
  std::string display;  // how messages name it
  std::string dir;      // directory for its own parents ("" for built-ins)
  doc::Node root;
};

// Parses `text` into a Document root (a mapping), migrating v1alpha1. Problems go to `diags`;
// nullopt when there is no usable mapping.
std::optional<doc::Node> readDocument(std::string_view text, const std::string& display,
                                      doc::Diagnostics& diags);

// Upstream's generic merge: maps merge key by key, lists concatenate dropping later
// duplicates, anything else: `over` wins.
doc::Node mergeNodes(const doc::Node& base, const doc::Node& over);

// `list` (a sequence, kept as it is, mark included) followed by each item of the sequence
// `more` that is not already there by Node::sameValue, in order. Hash-based for scalars, so
// a list of tens of thousands of hosts merges in linear time; mappings and lists as items
// are compared one by one (they are rare and short).
doc::Node appendUnique(const doc::Node& list, const doc::Node& more);

class ExtendsResolver {
 public:
  ExtendsResolver(std::vector<std::string> search_paths, doc::Diagnostics& diags)
      : search_paths_(std::move(search_paths)), diags_(diags) {}

  // The leaf merged over its resolved parents; `extends` and `metadata.abstract` removed and
  // initCommandsAppend folded when it had parents. Errors are added to the diagnostics.
  doc::Node resolve(const Document& leaf);

 private:
  struct Link {
    std::string key;
    std::string display;
  };
  std::optional<doc::Node> resolveDocument(const Document& d, std::vector<Link>& chain);
  // The parent called `name`. nullopt with `tried` listing where it looked when it does not
  // exist; nullopt with `tried` empty when it exists but could not be read or parsed (the
  // problem is already in the diagnostics).
  std::optional<Document> find(const std::string& name, const std::string& declaring_dir,
                               std::vector<std::string>& tried);

  std::vector<std::string> search_paths_;
  doc::Diagnostics& diags_;
  std::map<std::string, doc::Node> memo_;
  std::map<std::string, bool> failed_;  // documents that could not be read
};

// Moves spec.execution.initCommandsAppend onto the end of initCommands (deduplicated).
void foldInitCommandsAppend(doc::Node& root);

}  // namespace km::profile
