// Store::push: an image as an OCI image in a registry. Pulled layers go as they came (their
// blobs); a baked layer, kept unpacked in overlayfs's format, is archived first as an OCI
// layer (whiteouts as .wh. entries, opaque directories as .wh..wh..opq, overlayfs's own
// xattrs left out) by libarchive's directory reader. skopeo compresses and sends.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/fs.h"
#include "core/random.h"
#include "core/sys.h"
#include "core/tree.h"
#include "doc/json_io.h"
#include "doc/node.h"
#include "image/push.h"
#include "image/store_internal.h"
#include "image/unpack.h"

namespace km::image {
namespace {

// The archive's bytes to a file, hashed on the way.
struct TarSink {
  int fd = -1;
  Sha256Stream hash;
  uint64_t bytes = 0;
  int error = 0;
};

la_ssize_t writeSink(archive*, void* data, const void* buf, size_t n) {
  auto* s = static_cast<TarSink*>(data);
  const char* p = static_cast<const char*>(buf);
  size_t left = n;
  while (left > 0) {
    ssize_t w = ::write(s->fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      s->error = errno;
      return -1;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  s->hash.add(buf, n);
  s->bytes += n;
  return static_cast<la_ssize_t>(n);
}

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// Archives layer directory `dir` (ours: a bake's copy) as an uncompressed OCI layer into the
// blob store; its digest is also its diff id.
Result<std::pair<std::string, uint64_t>> archiveLayer(const std::string& dir, const std::string& blobs,
                                                     const std::string& tmp_name) {
  std::string tmp = blobs + "/" + tmp_name;
  auto out = sys::open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!out) return std::move(out).error();
  TarSink sink;
  sink.fd = out->get();
  std::unique_ptr<archive, ReadFree> disk(archive_read_disk_new());
  archive_read_disk_set_symlink_physical(disk.get());
  archive_read_disk_set_behavior(disk.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
  if (archive_read_disk_open(disk.get(), dir.c_str()) != ARCHIVE_OK) {
    return unavailable("reading layer " + dir + ": " + archiveError(disk.get()));
  }
  std::unique_ptr<archive, WriteFree> tar(archive_write_new());
  archive_write_set_format_pax_restricted(tar.get());
  archive_write_set_bytes_in_last_block(tar.get(), 1);
  if (archive_write_open(tar.get(), &sink, nullptr, writeSink, nullptr) != ARCHIVE_OK) {
    return unavailable(std::string("archiving a layer: ") + archiveError(tar.get()));
  }
  const std::string prefix = dir + "/";
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  auto fail = [&](archive* a, const std::string& what) {
    return unavailable("archiving layer " + dir + ": " + what + ": " + archiveError(a));
  };
  while (true) {
    archive_entry_clear(entry.get());
    int r = archive_read_next_header2(disk.get(), entry.get());
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return fail(disk.get(), "walking");
    std::string path = archive_entry_pathname(entry.get());
    archive_read_disk_descend(disk.get());
    if (path == dir) continue;  // the layer's root
    if (path.rfind(prefix, 0) != 0) return unavailable("archiving layer " + dir + ": unexpected path " + path);
    std::string rel = path.substr(prefix.size());
    size_t slash = rel.rfind('/');
    std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
    mode_t type = archive_entry_filetype(entry.get());
    if (type == AE_IFCHR && archive_entry_rdev(entry.get()) == makedev(0, 0)) {
      // overlayfs's whiteout → OCI's.
      std::unique_ptr<archive_entry, EntryFree> wh(archive_entry_new());
      archive_entry_set_pathname(wh.get(), (parent + ".wh." + base).c_str());
      archive_entry_set_filetype(wh.get(), AE_IFREG);
      archive_entry_set_perm(wh.get(), 0600);
      archive_entry_set_size(wh.get(), 0);
      if (archive_write_header(tar.get(), wh.get()) < ARCHIVE_WARN) return fail(tar.get(), rel);
      continue;
    }
    // overlayfs's own xattrs are not the image's; the opaque marker becomes OCI's.
    bool opaque = dropTrustedXattrs(entry.get());
    archive_entry_copy_pathname(entry.get(), rel.c_str());
    archive_entry_set_uname(entry.get(), nullptr);
    archive_entry_set_gname(entry.get(), nullptr);
    if (archive_write_header(tar.get(), entry.get()) < ARCHIVE_WARN) return fail(tar.get(), rel);
    if (type == AE_IFREG && archive_entry_size(entry.get()) > 0) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      la_int64_t written = 0;
      std::vector<char> zeros;
      while ((r = archive_read_data_block(disk.get(), &block, &size, &offset)) == ARCHIVE_OK) {
        // A tar writer takes data in order: holes become zeros.
        if (offset > written) {
          zeros.assign(static_cast<size_t>(std::min<la_int64_t>(offset - written, 1 << 20)), 0);
          while (written < offset) {
            size_t n = static_cast<size_t>(std::min<la_int64_t>(offset - written, static_cast<la_int64_t>(zeros.size())));
            if (archive_write_data(tar.get(), zeros.data(), n) < 0) return fail(tar.get(), rel);
            written += static_cast<la_int64_t>(n);
          }
        }
        if (archive_write_data(tar.get(), block, size) < 0) return fail(tar.get(), rel);
        written += static_cast<la_int64_t>(size);
      }
      if (r != ARCHIVE_EOF) return fail(disk.get(), rel);
    }
    if (opaque && type == AE_IFDIR) {
      std::unique_ptr<archive_entry, EntryFree> marker(archive_entry_new());
      archive_entry_set_pathname(marker.get(), (rel + "/.wh..wh..opq").c_str());
      archive_entry_set_filetype(marker.get(), AE_IFREG);
      archive_entry_set_perm(marker.get(), 0600);
      archive_entry_set_size(marker.get(), 0);
      if (archive_write_header(tar.get(), marker.get()) < ARCHIVE_WARN) return fail(tar.get(), rel);
    }
  }
  if (archive_write_close(tar.get()) != ARCHIVE_OK) return fail(tar.get(), "closing");
  if (sink.error != 0) return sys::errnoError("write", tmp, sink.error);
  out->reset();
  std::string digest = sink.hash.digest();
  std::string final_path = blobs + "/sha256/" + std::string(digestHex(digest));
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) return sys::errnoError("rename", final_path, errno);
  return std::make_pair(digest, sink.bytes);
}

doc::Node descriptor(const std::string& media, const std::string& digest, int64_t size) {
  doc::Node n = doc::Node::map();
  n.set("mediaType", doc::Node::string(media));
  n.set("digest", doc::Node::string(digest));
  n.set("size", doc::Node::integer(size));
  return n;
}

// Writes `text` as a blob; returns its digest.
Result<std::string> putBlob(const std::string& blobs, const std::string& text) {
  std::string digest = sha256Of(text);
  KM_TRY(fs::writeFileAtomic(blobs + "/sha256/" + std::string(digestHex(digest)), text));
  return digest;
}

}  // namespace

Result<std::string> pushImage(const Store& store, const ImageRecord& image, const Reference& dest,
                              const PullOptions& opt) {
  const std::string& dir_ = store.dir();
  auto say = [&](std::string_view line) {
    if (opt.progress) opt.progress(line);
  };
  std::string shown = image.names.empty() ? image.id : image.names.front();
  if (image.on_host) {
    return invalidArgument(shown + " was baked on the host's root, which is not an image: only images baked on a "
                           "pulled image can be pushed");
  }
  auto gc = FileLock::take(dir_ + "/locks/gc.lock", LOCK_SH);
  if (!gc) return std::move(gc).error();
  const std::string blobs = dir_ + "/blobs";
  KM_TRY(sys::makeDirs(blobs + "/sha256", 0700));
  // The base image's config, from the bottom-most pulled ancestor whose config blob is here.
  doc::Node config = doc::Node::map();
  if (!image.config_digest.empty()) {
    auto text = fs::readFile(blobs + "/sha256/" + std::string(digestHex(image.config_digest)), 8 << 20);
    doc::Node parsed;
    if (text && doc::parseJson(*text, parsed, nullptr) && parsed.isMap()) config = std::move(parsed);
  }
  if (!config.find("architecture")) config.set("architecture", doc::Node::string(image.architecture.empty() ? "amd64" : image.architecture));
  if (!config.find("os")) config.set("os", doc::Node::string("linux"));
  doc::Node layers = doc::Node::seq();
  doc::Node diff_ids = doc::Node::seq();
  for (size_t i = 0; i < image.layers.size(); ++i) {
    const std::string& id = image.layers[i];
    std::string blob = i < image.blobs.size() ? image.blobs[i] : "";
    struct stat st {};
    bool have = !blob.empty() && ::stat((blobs + "/sha256/" + std::string(digestHex(blob))).c_str(), &st) == 0;
    if (have && isDigest(id)) {
      layers.push(descriptor("application/vnd.oci.image.layer.v1.tar+gzip", blob, st.st_size));
      diff_ids.push(doc::Node::string(id));
      continue;
    }
    if (id.rfind("local:", 0) != 0) {
      return notFound("layer " + id + " of " + shown + " has no blob here any more (pruned?); pull the image again");
    }
    say("archiving layer " + std::to_string(i + 1) + "/" + std::to_string(image.layers.size()));
    auto archived = archiveLayer(store.layerDir(id), blobs, ".push-" + randomHex(8));
    if (!archived) return std::move(archived).error();
    layers.push(descriptor("application/vnd.oci.image.layer.v1.tar", archived->first,
                           static_cast<int64_t>(archived->second)));
    diff_ids.push(doc::Node::string(archived->first));
  }
  doc::Node rootfs = doc::Node::map();
  rootfs.set("type", doc::Node::string("layers"));
  rootfs.set("diff_ids", std::move(diff_ids));
  config.set("rootfs", std::move(rootfs));
  config.erase("history");  // the base's history no longer matches the layers
  auto config_digest = putBlob(blobs, doc::toJson(config, -1));
  if (!config_digest) return std::move(config_digest).error();
  doc::Node manifest = doc::Node::map();
  manifest.set("schemaVersion", doc::Node::integer(2));
  manifest.set("mediaType", doc::Node::string("application/vnd.oci.image.manifest.v1+json"));
  std::string config_text = doc::toJson(config, -1);
  manifest.set("config", descriptor("application/vnd.oci.image.config.v1+json", *config_digest,
                                    static_cast<int64_t>(config_text.size())));
  manifest.set("layers", std::move(layers));
  std::string manifest_text = doc::toJson(manifest, -1);
  auto manifest_digest = putBlob(blobs, manifest_text);
  if (!manifest_digest) return std::move(manifest_digest).error();
  // A layout of its own for skopeo (index.json), over the shared blob directory.
  const std::string layout = dir_ + "/tmp/push-" + randomHex(8);
  struct Cleanup {
    std::string path;
    ~Cleanup() { (void)tree::removeTree(path); }
  } cleanup{layout};
  KM_TRY(sys::makeDirs(layout, 0700));
  KM_TRY(fs::writeFileAtomic(layout + "/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"));
  doc::Node index = doc::Node::map();
  index.set("schemaVersion", doc::Node::integer(2));
  doc::Node manifests = doc::Node::seq();
  doc::Node m = descriptor("application/vnd.oci.image.manifest.v1+json", *manifest_digest,
                           static_cast<int64_t>(manifest_text.size()));
  doc::Node annotations = doc::Node::map();
  annotations.set("org.opencontainers.image.ref.name", doc::Node::string("km"));
  m.set("annotations", std::move(annotations));
  manifests.push(std::move(m));
  index.set("manifests", std::move(manifests));
  KM_TRY(fs::writeFileAtomic(layout + "/index.json", doc::toJson(index, -1)));
  std::vector<std::string> args = {opt.skopeo, "copy", "--retry-times", "2", "--src-shared-blob-dir", blobs,
                                   "--dest-compress", "--digestfile", layout + "/pushed"};
  if (std::find(opt.insecure_registries.begin(), opt.insecure_registries.end(), dest.registry) !=
      opt.insecure_registries.end()) {
    args.emplace_back("--dest-tls-verify=false");
  }
  if (!opt.cert_dir.empty()) args.insert(args.end(), {"--dest-cert-dir", opt.cert_dir});
  if (!opt.auth_file.empty()) args.insert(args.end(), {"--dest-authfile", opt.auth_file});
  args.push_back("oci:" + layout + ":km");
  args.push_back("docker://" + dest.str());
  say("pushing " + shown + " to " + dest.str());
  KM_TRY(runSkopeo(args, [&](std::string_view l) { say("  " + std::string(l)); }));
  auto pushed = fs::readFile(layout + "/pushed", 4096);
  std::string digest = pushed ? *pushed : "";
  while (!digest.empty() && (digest.back() == '\n' || digest.back() == ' ')) digest.pop_back();
  return digest;
}

}  // namespace km::image
