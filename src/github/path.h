// Private to km::github: a request-target's path, percent-decoded, checked and split the way
// repoOf documents, shared by the repository and action classifiers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace km::github::detail {

struct Path {
  std::vector<std::string> segments;  // decoded; a trailing '/' adds no empty segment
};

// InvalidArgument for a target not starting with '/', a malformed escape, or a decoded path
// with "//", '\', a control byte, or a "." or ".." segment.
[[nodiscard]] Result<Path> decodePath(std::string_view target);

// [A-Za-z0-9._-]+ without "..": what GitHub allows in an owner or repository name.
bool isRepoNamePart(std::string_view s);

}  // namespace km::github::detail
