// Writing doc::Node trees as JSON (the only file that touches nlohmann-json).
// Thread-safe: no shared state.
#pragma once

#include <string>

#include "doc/node.h"

namespace km::doc {

// JSON text for `node`: mappings become objects (document order kept), numbers stay numbers.
// indent < 0 writes one line. Non-UTF-8 bytes in strings are replaced, never thrown on.
std::string toJson(const Node& node, int indent = 2);

}  // namespace km::doc
