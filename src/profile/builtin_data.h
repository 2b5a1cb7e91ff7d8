// The built-in profiles' YAML text, generated into the build from profiles/*.yaml.
#pragma once

#include <string_view>
#include <vector>

namespace km::profile {

struct BuiltinSource {
  std::string_view name;
  std::string_view yaml;
};

// In upstream's fixed order: open-dev restricted-dev hardened sealed goose ao codex learn.
const std::vector<BuiltinSource>& builtinSources();

}  // namespace km::profile
