// Private to the image module: what store.cc, push.cc and unpack.cc share.
#pragma once

#include <openssl/evp.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sys.h"

struct archive;
struct archive_entry;

namespace km::image {

// A running sha256 ("sha256:<hex>" at the end).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void add(const void* p, size_t n);
  std::string digest();

 private:
  EVP_MD_CTX* ctx_;
};

// An flock held until destruction.
class FileLock {
 public:
  // Blocks for the lock unless `wait` is false (then `held()` says whether it was free).
  static Result<FileLock> take(const std::string& path, int op, bool wait = true);
  bool held() const { return held_; }
  // The locked fd (the lock goes with it), for a holder of another type.
  sys::UniqueFd release() && { return std::move(fd_); }

 private:
  sys::UniqueFd fd_;
  bool held_ = false;
};

// libarchive's message for the last error of `a`, made harmless for a terminal (it may
// have none: never a null string).
std::string archiveError(archive* a);

// Removes `entry`'s trusted.* xattrs: overlayfs's own markers, never an image's (an image
// could plant redirects; a bake's copy holds overlayfs's). True when one was the opaque
// marker trusted.overlay.opaque=y.
bool dropTrustedXattrs(archive_entry* entry);

// Runs skopeo with its output read line by line (each given to `line`); Unavailable with the
// last lines (made harmless for a terminal) when it fails.
Status runSkopeo(const std::vector<std::string>& args, const std::function<void(std::string_view)>& line);

}  // namespace km::image
