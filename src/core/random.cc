#include "core/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/check.h"

namespace km {

std::string randomHex(size_t bytes) {
  std::vector<uint8_t> buf(bytes);
  size_t got = 0;
  while (got < buf.size()) {
    // Reads of up to 256 bytes are never cut short, and block only until the pool is
    // initialised early in boot; retrying EINTR and short reads anyway costs nothing.
    ssize_t n = ::getrandom(buf.data() + got, buf.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    // Only ENOSYS (a kernel older than 3.17) can land here; km needs far newer kernels.
    KM_CHECK(n > 0) << "getrandom: " << std::strerror(errno);
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : buf) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

}  // namespace km
