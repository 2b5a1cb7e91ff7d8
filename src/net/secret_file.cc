#include "net/secret_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/fs.h"
#include "core/strings.h"

namespace km::net {

Result<std::string> readSecretFile(const std::string& path, const std::string& km_home, size_t max_bytes) {
  char real[PATH_MAX];
  if (!::realpath(path.c_str(), real)) {
    return invalidArgument(path + ": " + std::strerror(errno));
  }
  auto under = [&](std::string_view root) {
    std::string_view r(real);
    return !root.empty() && root != "/" && r.starts_with(root) && r.size() > root.size() &&
           (root.back() == '/' || r[root.size()] == '/');
  };
  char home_real[PATH_MAX];
  std::string home = !km_home.empty() && ::realpath(km_home.c_str(), home_real) ? home_real : "";
  if (!under("/root") && !under("/home") && !under(home)) {
    return invalidArgument(path + " is where sandboxes can read it (they see the host's files outside /root, "
                           "/home and KM_HOME): move it under /root (like /root/.km/) or KM_HOME");
  }
  struct stat st{};
  if (::stat(real, &st) != 0) return invalidArgument(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return invalidArgument(path + " is not a regular file");
  if (st.st_mode & 077) {
    return invalidArgument(path + " is readable by others than its owner: chmod 600 " + path);
  }
  auto text = fs::readFile(real, max_bytes);
  if (!text) return std::move(text).error();
  return text;
}

Result<std::string> readSecretValue(const std::string& path, const std::string& km_home) {
  auto text = readSecretFile(path, km_home, 64 << 10);
  if (!text) return text;
  std::string value(trim(*text));
  if (value.empty()) return invalidArgument(path + " is empty: write the secret in it (one line)");
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return invalidArgument(path + " holds more than one line or a control character: a secret here is one line");
    }
  }
  return value;
}

}  // namespace km::net
