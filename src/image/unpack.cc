#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/beneath.h"
#include "core/strings.h"
#include "core/sys.h"
#include "image/store_internal.h"

namespace km::image {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr size_t kBlock = 1 << 20;

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriterFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
using Reader = std::unique_ptr<archive, ArchiveFree>;
using Writer = std::unique_ptr<archive, WriterFree>;

// The compressed side: the blob file, hashed as libarchive reads it.
struct BlobSource {
  int fd = -1;
  Sha256Stream hash;
  uint64_t bytes = 0;
  std::vector<char> buf = std::vector<char>(kBlock);
  const ByteProgress* progress = nullptr;
  uint64_t reported = 0;
  int error = 0;
};

la_ssize_t readBlob(archive*, void* data, const void** out) {
  auto* s = static_cast<BlobSource*>(data);
  ssize_t n;
  do {
    n = ::read(s->fd, s->buf.data(), s->buf.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    s->error = errno;
    return -1;
  }
  s->hash.add(s->buf.data(), static_cast<size_t>(n));
  s->bytes += static_cast<uint64_t>(n);
  if (s->progress && *s->progress && s->bytes - s->reported >= (16u << 20)) {
    s->reported = s->bytes;
    (*s->progress)(s->bytes);
  }
  *out = s->buf.data();
  return n;
}

// The uncompressed side: the tar stream the raw reader decompresses, hashed as the tar reader
// consumes it.
struct TarSource {
  archive* raw = nullptr;
  Sha256Stream hash;
  uint64_t bytes = 0;
  std::vector<char> buf = std::vector<char>(kBlock);
  bool failed = false;
};

la_ssize_t readTar(archive* self, void* data, const void** out) {
  auto* s = static_cast<TarSource*>(data);
  la_ssize_t n = archive_read_data(s->raw, s->buf.data(), s->buf.size());
  if (n < 0) {
    s->failed = true;
    archive_set_error(self, EIO, "decompressing: %s", archiveError(s->raw).c_str());
    return -1;
  }
  s->hash.add(s->buf.data(), static_cast<size_t>(n));
  s->bytes += static_cast<uint64_t>(n);
  *out = s->buf.data();
  return n;
}

// An entry's name below the layer's root: "./a/b", "/a/b" and "a//b/" all become "a/b".
// Empty for the root itself; nullopt for a name with a ".." component.
std::optional<std::string> cleanName(std::string_view name) {
  std::string out;
  size_t i = 0;
  while (i <= name.size()) {
    size_t end = name.find('/', i);
    if (end == std::string_view::npos) end = name.size();
    std::string_view comp = name.substr(i, end - i);
    if (comp == "..") return std::nullopt;
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(comp);
    }
    i = end + 1;
  }
  return out;
}

Error entryError(std::string_view blob_digest, std::string_view name, const std::string& why) {
  return invalidArgument("layer " + std::string(blob_digest) + ": entry \"" + std::string(name) + "\" " + why);
}

// The directory holding `rel` (made with 0755 when missing), opened without following links.
Result<sys::UniqueFd> parentOf(int root_fd, const std::string& rel, std::string* base) {
  size_t slash = rel.rfind('/');
  *base = slash == std::string::npos ? rel : rel.substr(slash + 1);
  std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash);
  return beneath::openDir(root_fd, dir, /*create=*/true, 0755, std::nullopt);
}

}  // namespace

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }
void Sha256Stream::add(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
std::string Sha256Stream::digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string archiveError(archive* a) {
  const char* text = archive_error_string(a);
  // It may quote the archive's own names: made harmless for a terminal.
  return text ? escapeForTerminal(text, false) : "unreadable archive (libarchive gave no reason)";
}

bool dropTrustedXattrs(archive_entry* entry) {
  std::vector<std::pair<std::string, std::string>> keep;
  bool dropped = false, opaque = false;
  archive_entry_xattr_reset(entry);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    if (std::strncmp(name, "trusted.", 8) == 0) {
      dropped = true;
      opaque = opaque || (std::strcmp(name, "trusted.overlay.opaque") == 0 && size == 1 &&
                          *static_cast<const char*>(value) == 'y');
      continue;
    }
    keep.emplace_back(name, std::string(static_cast<const char*>(value), size));
  }
  if (dropped) {
    archive_entry_xattr_clear(entry);
    for (const auto& [k, v] : keep) archive_entry_xattr_add_entry(entry, k.c_str(), v.data(), v.size());
  }
  return opaque;
}

std::string sha256Of(std::string_view data) {
  Sha256Stream h;
  h.add(data.data(), data.size());
  return h.digest();
}

Result<std::string> sha256File(const std::string& path) {
  auto fd = sys::open(path, O_RDONLY);
  if (!fd) return std::move(fd).error();
  Sha256Stream h;
  std::vector<char> buf(kBlock);
  while (true) {
    ssize_t n = ::read(fd->get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys::errnoError("read", path, errno);
    if (n == 0) break;
    h.add(buf.data(), static_cast<size_t>(n));
  }
  return h.digest();
}

Result<LayerStats> unpackLayer(const std::string& blob_path, std::string_view blob_digest,
                               std::string_view diff_id, const std::string& dest, const ByteProgress& progress) {
  auto blob_fd = sys::open(blob_path, O_RDONLY);
  if (!blob_fd) return std::move(blob_fd).error().context("layer " + std::string(blob_digest));
  auto root = sys::open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!root) return std::move(root).error();
  const int root_fd = root->get();

  BlobSource blob;
  blob.fd = blob_fd->get();
  blob.progress = &progress;
  Reader raw(archive_read_new());
  archive_read_support_filter_all(raw.get());
  archive_read_support_format_raw(raw.get());
  if (archive_read_open(raw.get(), &blob, nullptr, readBlob, nullptr) != ARCHIVE_OK) {
    return invalidArgument("layer " + std::string(blob_digest) + ": " + archiveError(raw.get()));
  }
  archive_entry* raw_entry = nullptr;
  if (archive_read_next_header(raw.get(), &raw_entry) != ARCHIVE_OK) {
    return invalidArgument("layer " + std::string(blob_digest) + " is not a readable archive: " +
                           archiveError(raw.get()));
  }
  TarSource tar;
  tar.raw = raw.get();
  Reader in(archive_read_new());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open(in.get(), &tar, nullptr, readTar, nullptr) != ARCHIVE_OK) {
    return invalidArgument("layer " + std::string(blob_digest) + " is not a tar archive: " +
                           archiveError(in.get()));
  }
  Writer out(archive_write_disk_new());
  // Owners by number (the image's ids); no path through a symlink, no "..", no absolute names.
  // No file flags: an image's immutable or append-only flag would pin its files on the host
  // (prune could not remove them), and a read-only lower layer needs none.
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
                                                ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  LayerStats stats;
  std::string prefix = dest + "/";
  archive_entry* entry = nullptr;
  while (true) {
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return invalidArgument("layer " + std::string(blob_digest) + ": " + archiveError(in.get()));
    }
    ++stats.entries;
    const char* raw_name = archive_entry_pathname(entry);
    std::string original = raw_name ? raw_name : "";
    // The image's names are its author's: shown only made harmless for a terminal.
    std::string shown = escapeForTerminal(original, false);
    auto name = cleanName(original);
    if (!name) return entryError(blob_digest, shown, "has a \"..\" component");
    // Deeper or longer than any real image's; each extra level costs every later entry.
    if (name->size() > kMaxLayerNameBytes ||
        static_cast<size_t>(std::count(name->begin(), name->end(), '/')) >= kMaxLayerDepth) {
      return entryError(blob_digest, shown.substr(0, 200) + "…",
                        "is deeper than " + std::to_string(kMaxLayerDepth) + " directories or longer than " +
                            std::to_string(kMaxLayerNameBytes) + " bytes");
    }
    if (name->empty()) continue;  // the layer's root: its directory is ours
    std::string base;
    size_t slash = name->rfind('/');
    base = slash == std::string::npos ? *name : name->substr(slash + 1);
    if (base.rfind(kWhiteoutPrefix, 0) == 0) {
      // An OCI whiteout: overlayfs's own form of it, in this layer's directory.
      std::string leaf;
      auto parent = parentOf(root_fd, *name, &leaf);
      if (!parent) return std::move(parent).error().context("layer " + std::string(blob_digest) + ": " + shown);
      if (base == kOpaqueMarker) {
        if (::fsetxattr(parent->get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
          return sys::errnoError("fsetxattr trusted.overlay.opaque", shown, errno);
        }
        continue;
      }
      std::string hidden = base.substr(kWhiteoutPrefix.size());
      if (hidden.empty() || hidden == "." || hidden == "..") return entryError(blob_digest, shown, "is a whiteout of nothing");
      if (::mknodat(parent->get(), hidden.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
        if (errno != EEXIST) return sys::errnoError("mknod (whiteout)", shown, errno);
        // The layer itself had the name too: the whiteout wins (it hides the lower layers).
        if (::unlinkat(parent->get(), hidden.c_str(), 0) != 0 && ::unlinkat(parent->get(), hidden.c_str(), AT_REMOVEDIR) != 0) {
          return sys::errnoError("unlink (whiteout)", shown, errno);
        }
        if (::mknodat(parent->get(), hidden.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
          return sys::errnoError("mknod (whiteout)", shown, errno);
        }
      }
      continue;
    }
    // Only overlayfs's own markers may carry trusted.* xattrs, and km sets those.
    dropTrustedXattrs(entry);
    archive_entry_set_pathname(entry, (prefix + *name).c_str());
    if (const char* link = archive_entry_hardlink(entry)) {
      auto target = cleanName(link);
      if (!target || target->empty()) {
        return entryError(blob_digest, shown, "is a hard link to \"" + escapeForTerminal(link, false) + "\"");
      }
      archive_entry_set_hardlink(entry, (prefix + *target).c_str());
    }
    r = archive_write_header(out.get(), entry);
    if (r < ARCHIVE_WARN) {
      return invalidArgument("layer " + std::string(blob_digest) + ": " + shown + ": " + archiveError(out.get()));
    }
    if (archive_entry_size(entry) > 0 && archive_entry_hardlink(entry) == nullptr) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      while ((r = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_OK) {
          return invalidArgument("layer " + std::string(blob_digest) + ": " + shown + ": " +
                                 archiveError(out.get()));
        }
      }
      if (r != ARCHIVE_EOF) {
        return invalidArgument("layer " + std::string(blob_digest) + ": " + shown + ": " + archiveError(in.get()));
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      return invalidArgument("layer " + std::string(blob_digest) + ": " + shown + ": " + archiveError(out.get()));
    }
  }
  // Directory modes and times are set last (libarchive defers them).
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    return invalidArgument("layer " + std::string(blob_digest) + ": " + archiveError(out.get()));
  }
  // The rest of both streams (tar padding after the end marker, bytes after the compressed
  // end) counts in the digests too.
  while (true) {
    const void* ignored = nullptr;
    if (readTar(in.get(), &tar, &ignored) <= 0) break;
  }
  if (tar.failed) {
    return invalidArgument("layer " + std::string(blob_digest) + ": " + archiveError(raw.get()));
  }
  while (true) {
    const void* ignored = nullptr;
    la_ssize_t n = readBlob(raw.get(), &blob, &ignored);
    if (n <= 0) break;
  }
  if (blob.error != 0) return sys::errnoError("read", blob_path, blob.error);
  stats.compressed_bytes = blob.bytes;
  stats.tar_bytes = tar.bytes;
  std::string got_blob = blob.hash.digest();
  if (got_blob != blob_digest) {
    return invalidArgument("layer blob " + blob_path + " has digest " + got_blob + ", not " + std::string(blob_digest) +
                           " as the manifest says; pull the image again");
  }
  std::string got_diff = tar.hash.digest();
  if (got_diff != diff_id) {
    return invalidArgument("layer " + std::string(blob_digest) + " unpacks to " + got_diff + ", not the diff id " +
                           std::string(diff_id) + " the image's config gives");
  }
  if (progress) progress(blob.bytes);
  return stats;
}

}  // namespace km::image
