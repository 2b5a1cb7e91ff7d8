#include "core/check.h"

#include <cstdio>
#include <cstdlib>

namespace km::detail {

CheckFailure::CheckFailure(const char* cond, const char* file, int line) {
  why_ << "BUG: check failed: " << cond << " at " << file << ":" << line << ": ";
}

CheckFailure::~CheckFailure() {
  std::fprintf(stderr, "%s\n", why_.str().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace km::detail
