// Lookup of built-in profile text (private to profile).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace km::profile {

// The YAML text of built-in `name`, or nullptr. Points into static storage.
const std::string_view* builtinYaml(std::string_view name);

// Display/key name used in marks and cycle detection: "builtin:NAME".
inline std::string builtinKey(std::string_view name) { return "builtin:" + std::string(name); }

}  // namespace km::profile
