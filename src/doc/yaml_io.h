// Reading and writing YAML text as doc::Node trees (the only file that touches yaml-cpp).
// Thread-safe: no shared state.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "doc/diagnostic.h"
#include "doc/node.h"

namespace km::doc {

struct ParseLimits {
  size_t max_bytes = 1 << 20;      // a profile is a few KiB; refuse megabytes of YAML
  size_t max_nodes = 100'000;      // bounds alias expansion ("billion laughs")
};

// Parses one YAML document from `text`; `file` names it in marks and messages.
// On malformed YAML, duplicate keys, several documents or limits exceeded, returns false
// and adds the errors (with line:column) to `diags`; `out` is then unspecified.
bool parseYaml(std::string_view text, const std::string& file, Node& out, Diagnostics& diags,
               const ParseLimits& limits = {});

// Block-style YAML for a Node. Strings that would read back as another type are quoted;
// multi-line strings use literal blocks.
std::string emitYaml(const Node& node);

}  // namespace km::doc
