// Reading and writing doc::Node trees as JSON (the only file that touches nlohmann-json).
// Thread-safe: no shared state.
#pragma once

#include <string>
#include <string_view>

#include "doc/node.h"

namespace km::doc {

// JSON text for `node`: mappings become objects (document order kept), numbers stay numbers.
// indent < 0 writes one line. Non-UTF-8 bytes in strings are replaced, never thrown on.
std::string toJson(const Node& node, int indent = 2);

// Values nested deeper than this (the top-level value is depth 0) make parseJson fail: it
// bounds the recursion that converts and later walks the tree.
inline constexpr int kMaxJsonDepth = 64;

// Parses one JSON value into `out`: objects become mappings (keys in document order; a repeated
// key keeps its first position and last value), arrays sequences, integers kInt, other
// numbers kFloat (text as nlohmann prints them), strings kString. Nodes carry no marks.
// Returns false, leaving `out` unchanged, on invalid JSON (including invalid UTF-8) or
// nesting deeper than kMaxJsonDepth; `error` (when not null) then says why. Never throws.
bool parseJson(std::string_view text, Node& out, std::string* error);

}  // namespace km::doc
