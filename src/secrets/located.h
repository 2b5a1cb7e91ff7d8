// Errors that point at a place in a sops file ("secrets.enc.yaml:12:5: ..."). Private to
// km::secrets.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "doc/node.h"

namespace km::secrets {

inline Error invalidAt(const doc::Mark& at, std::string_view message) {
  std::string where = at.fileName();
  if (at.line) where += ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
  return invalidArgument(where + ": " + std::string(message));
}

}  // namespace km::secrets
