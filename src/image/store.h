// km::image::Store — the OS images of one km home, under $KM_HOME/images:
//   blobs/sha256/<hex>   compressed layers, manifests and configs as pulled (skopeo's shared
//                        blob directory; kept so a re-pull fetches only what changed)
//   layers/<id>/         each layer unpacked once, in overlayfs's format (unpack.h); a
//                        sandbox's root stacks an image's layers as its lower directories
//   records/<hex>.json   one per image: its names, layers (bottom first), OS and sizes
//   tmp/, locks/         pulls in progress; flock files
// An image is pulled by skopeo (any OCI or Docker registry, TLS checked, the operator's
// registry credentials and CAs), checked (the manifest's, config's and every layer's digest
// and diff id), unpacked by libarchive and recorded. Concurrent pulls of one name run once:
// the second waits for the first and takes its result. Layers are shared by every image that
// has them. Baked images (a sandbox's writes on top of its image) are local layers of their
// own. Needs root. Thread-compatible; processes coordinate through flock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "image/reference.h"

namespace km::image {

struct OsRelease {
  std::string id;           // ID: debian, ubuntu, amzn
  std::string version_id;   // VERSION_ID: 12, 24.04, 2023
  std::string pretty_name;  // PRETTY_NAME
};

// The id of the layer-free parent that means "the host's own root" (a bake of a sandbox that
// runs on the host's OS).
inline constexpr std::string_view kHostParent = "host";

struct ImageRecord {
  std::string id;                   // "sha256:<hex>": the manifest's digest, or a baked image's own
  std::vector<std::string> names;   // canonical references (Reference::str) that name it
  std::vector<std::string> layers;  // layer ids, bottom first ("sha256:<diff id hex>" or "local:<hex>")
  std::vector<std::string> blobs;   // pulled: each layer's compressed blob digest (same order)
  std::string manifest_digest, config_digest;  // pulled
  bool on_host = false;             // baked on the host's root: the host is its bottom layer
  std::string parent;               // baked: the parent image's id (or "host")
  std::string source;               // "docker://127.0.0.1:5000/x:y" or "bake of sb-1234abcd"
  std::string architecture;         // amd64, arm64
  OsRelease os;
  int64_t size_bytes = 0;           // unpacked (the layers' archives, or a baked layer's files)
  std::string created;              // UTC, ISO 8601
};

struct PullOptions {
  std::string cert_dir;             // CA certificates (*.crt) for registries (skopeo --src-cert-dir)
  std::string auth_file;            // registry credentials (skopeo --authfile)
  std::vector<std::string> insecure_registries;  // host[:port] reached without TLS verification
  std::string skopeo = "skopeo";    // program (searched in PATH)
  // Progress lines for the user ("pulling …", skopeo's own lines, "unpacking layer 2/5 …").
  std::function<void(std::string_view)> progress;
};

struct PruneReport {
  std::vector<std::string> images;  // ids of unnamed images removed
  std::vector<std::string> layers;  // layer ids removed
  int64_t blobs = 0;                // blob files removed
  int64_t bytes = 0;                // bytes freed (approximate)
};

class Store {
 public:
  explicit Store(std::string km_home);

  const std::string& dir() const { return dir_; }
  // Where layer `id` is unpacked.
  std::string layerDir(std::string_view layer_id) const;
  // Lower directories for an overlay, top first, as overlayfs's lowerdir lists them ("/" last
  // for an image baked on the host). NotFound naming the image when a layer is missing.
  [[nodiscard]] Result<std::vector<std::string>> lowerDirs(const ImageRecord& image) const;

  // Every image, newest first.
  [[nodiscard]] Result<std::vector<ImageRecord>> list() const;
  // The image `name` names: a reference (its canonical name; "NAME" also tries
  // localhost/NAME, where baked images live) or an id ("sha256:<hex>", or at least 12 hex
  // digits of one). nullopt when there is none; InvalidArgument for a malformed name or an
  // id prefix that fits several images.
  [[nodiscard]] Result<std::optional<ImageRecord>> find(std::string_view name) const;

  // Pulls `ref` and returns its record. A name that already has a record is pulled again
  // (what a tag names may change); a pull of the same name that runs meanwhile in another
  // process is waited for and its result taken.
  [[nodiscard]] Result<ImageRecord> pull(const Reference& ref, const PullOptions& options);

  // Removes name `name` (an id removes the image with all its names). The image's record goes
  // with its last name; its layers and blobs stay until prune. PermissionDenied when the
  // image, or an image baked on it, is one of `in_use` (ids of images sandboxes run on).
  [[nodiscard]] Result<ImageRecord> remove(std::string_view name, const std::set<std::string>& in_use);

  // Removes images without a name (a re-pull or bake moved it) that no sandbox runs on
  // (`in_use`) and no image was baked on; then layers and blobs no image record has, except
  // `in_use_layers` (layers of sandboxes' plans); and what failed pulls left in tmp/.
  [[nodiscard]] Result<PruneReport> prune(const std::set<std::string>& in_use,
                                          const std::set<std::string>& in_use_layers);

  // Makes image `name` (a reference, "NAME" meaning localhost/NAME:latest) from `upper`, a
  // sandbox's overlay upper directory (attacker-written: copied fd-relative, no symlink
  // followed), on top of `parent` (nullopt: the host's root). The copy is a new local layer.
  [[nodiscard]] Result<ImageRecord> bake(const std::string& upper, const std::optional<ImageRecord>& parent,
                                         const Reference& name, const std::string& source);

 private:
  std::string km_home_;
  std::string dir_;
};

// Reads an os-release text's ID, VERSION_ID and PRETTY_NAME (quotes removed).
OsRelease parseOsRelease(std::string_view text);

}  // namespace km::image
