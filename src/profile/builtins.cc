#include "profile/builtins.h"

#include "profile/builtin_data.h"

namespace km::profile {

std::vector<std::string> builtinNames() {
  std::vector<std::string> out;
  for (const auto& s : builtinSources()) out.emplace_back(s.name);
  return out;
}

bool isBuiltin(std::string_view name) { return builtinYaml(name) != nullptr; }

const std::string_view* builtinYaml(std::string_view name) {
  for (const auto& s : builtinSources())
    if (s.name == name) return &s.yaml;
  return nullptr;
}

}  // namespace km::profile
