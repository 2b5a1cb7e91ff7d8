// Unpacking one OCI layer (a tar, gzip- or zstd-compressed or plain) into a directory of its
// own, in overlayfs's format, so that an image's layers stack as an overlay's lower
// directories without being merged: an OCI whiteout ".wh.NAME" becomes a 0:0 character
// device NAME, an opaque marker ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its
// directory. libarchive reads the archive and writes the files; km checks the digests on the
// way (the compressed blob's and the uncompressed diff id) and keeps the layer's entries
// below its directory: absolute names and ".." are refused, nothing is written through a
// symlink, and trusted.* xattrs in the archive are dropped (only km sets overlay's). Owners
// are kept numerically (the image's ids, never looked up on the host). Needs root for
// owners and whiteouts. Thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace km::image {

// The deepest directory a layer may hold (an entry's name has fewer '/' than this); deeper
// ones fail the pull (no real image has one, and each level costs every later entry a check).
inline constexpr size_t kMaxLayerDepth = 128;
// The longest entry name a layer may hold.
inline constexpr size_t kMaxLayerNameBytes = 4096;

struct LayerStats {
  uint64_t compressed_bytes = 0;
  uint64_t tar_bytes = 0;  // the uncompressed archive
  uint64_t entries = 0;
};

// Called now and then with the compressed bytes read so far.
using ByteProgress = std::function<void(uint64_t)>;

// Unpacks `blob_path` into `dest`, an empty directory whose path has no symlink. The blob's
// sha256 must be `blob_digest` and the archive's `diff_id` (both "sha256:<hex>"): on a
// mismatch, InvalidArgument naming both and the blob (then `dest` holds a partial layer, for
// the caller to remove). InvalidArgument too for an entry that would land outside `dest`.
[[nodiscard]] Result<LayerStats> unpackLayer(const std::string& blob_path, std::string_view blob_digest,
                                             std::string_view diff_id, const std::string& dest,
                                             const ByteProgress& progress = {});

// "sha256:<hex>" of a file's bytes.
[[nodiscard]] Result<std::string> sha256File(const std::string& path);
// "sha256:<hex>" of `data`.
std::string sha256Of(std::string_view data);

}  // namespace km::image
