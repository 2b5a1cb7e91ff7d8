// Fuzzes km::image: the reference parser (a parsed reference's canonical name reads back as
// itself), the os-release reader, and unpackLayer on the input as a layer blob (any
// compression libarchive detects) in a fresh directory: whatever the archive holds, nothing
// may appear beside the layer's directory. The diff id given never matches, so every run
// unpacks fully and then fails the check. Run as root (owners, whiteouts), like km.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/tree.h"
#include "image/reference.h"
#include "image/store.h"
#include "image/unpack.h"

namespace {

void checkReference(std::string_view text) {
  auto r = km::image::parseReference(text);
  if (!r) {
    if (r.error().message().empty()) std::abort();
    return;
  }
  auto again = km::image::parseReference(r->str());
  if (!again || !(*again == *r)) std::abort();
}

int entriesIn(const std::string& dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ++n;
    }
    ::closedir(d);
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (size < 512) checkReference(text);
  (void)km::image::parseOsRelease(text);
  if (::geteuid() != 0) return 0;
  // One directory per fuzzing process, emptied before each input: a run that libFuzzer ends
  // mid-input (its time limit) leaves one, never thousands.
  std::string top = "/tmp/km-image-fuzz-" + std::to_string(::getpid());
  (void)km::tree::removeTree(top);
  if (::mkdir(top.c_str(), 0700) != 0) return 0;
  std::string blob = top + "/blob", dest = top + "/layer";
  if (FILE* f = std::fopen(blob.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  ::mkdir(dest.c_str(), 0755);
  auto st = km::image::unpackLayer(blob, km::image::sha256Of(text), "sha256:" + std::string(64, '0'), dest);
  if (st) std::abort();  // the diff id cannot match
  if (st.error().message().empty()) std::abort();
  // Nothing beside the layer's directory and the blob.
  if (entriesIn(top) != 2) std::abort();
  (void)km::tree::removeTree(top);
  return 0;
}
