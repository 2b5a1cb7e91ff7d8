// km::randomHex — random names and tokens from the kernel's random source (sandbox ids,
// sentinels, temporary names). Thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace km {

// `bytes` random bytes from getrandom(2), as 2×bytes lowercase hex digits.
std::string randomHex(size_t bytes);

}  // namespace km
