// KM_CHECK: broken invariants (never input from profiles, the network or permissions).
// Aborts in every build after printing the condition, location and reason.
#pragma once

#include <sstream>

namespace km::detail {

class CheckFailure {
 public:
  CheckFailure(const char* cond, const char* file, int line);
  [[noreturn]] ~CheckFailure();
  template <class T>
  CheckFailure& operator<<(const T& v) {
    why_ << v;
    return *this;
  }

 private:
  std::ostringstream why_;
};

}  // namespace km::detail

#define KM_CHECK(cond) \
  if (cond) {          \
  } else               \
    ::km::detail::CheckFailure(#cond, __FILE__, __LINE__)
