#include "image/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "core/beneath.h"
#include "core/fs.h"
#include "core/random.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "core/sys.h"
#include "core/tree.h"
#include "doc/json_io.h"
#include "doc/node.h"
#include "image/pin.h"
#include "image/store_internal.h"
#include "image/unpack.h"

namespace km::image {
namespace {

std::string nowIso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

doc::Node strings(const std::vector<std::string>& v) {
  doc::Node n = doc::Node::seq();
  for (const auto& s : v) n.push(doc::Node::string(s));
  return n;
}

doc::Node toNode(const ImageRecord& r) {
  doc::Node n = doc::Node::map();
  n.set("id", doc::Node::string(r.id));
  n.set("names", strings(r.names));
  n.set("layers", strings(r.layers));
  n.set("blobs", strings(r.blobs));
  n.set("manifestDigest", doc::Node::string(r.manifest_digest));
  n.set("configDigest", doc::Node::string(r.config_digest));
  n.set("onHost", doc::Node::boolean(r.on_host));
  n.set("parent", doc::Node::string(r.parent));
  n.set("source", doc::Node::string(r.source));
  n.set("architecture", doc::Node::string(r.architecture));
  doc::Node os = doc::Node::map();
  os.set("id", doc::Node::string(r.os.id));
  os.set("versionId", doc::Node::string(r.os.version_id));
  os.set("prettyName", doc::Node::string(r.os.pretty_name));
  n.set("os", std::move(os));
  n.set("sizeBytes", doc::Node::integer(r.size_bytes));
  n.set("created", doc::Node::string(r.created));
  return n;
}

std::string str(const doc::Node& n, std::string_view key) {
  const doc::Node* v = n.find(key);
  return v && v->isScalar() && !v->isNull() ? v->text() : "";
}
std::vector<std::string> strList(const doc::Node& n, std::string_view key) {
  std::vector<std::string> out;
  if (const doc::Node* v = n.find(key); v && v->isSeq()) {
    for (const auto& i : v->items()) out.push_back(i.text());
  }
  return out;
}

Result<ImageRecord> fromJson(std::string_view text, const std::string& path) {
  doc::Node n;
  std::string err;
  if (!doc::parseJson(text, n, &err) || !n.isMap()) {
    return invalidArgument("image record " + path + " is not valid JSON (" + err + "); remove it and pull again");
  }
  ImageRecord r;
  r.id = str(n, "id");
  r.names = strList(n, "names");
  r.layers = strList(n, "layers");
  r.blobs = strList(n, "blobs");
  r.manifest_digest = str(n, "manifestDigest");
  r.config_digest = str(n, "configDigest");
  r.on_host = str(n, "onHost") == "true";
  r.parent = str(n, "parent");
  r.source = str(n, "source");
  r.architecture = str(n, "architecture");
  if (const doc::Node* os = n.find("os"); os && os->isMap()) {
    r.os.id = str(*os, "id");
    r.os.version_id = str(*os, "versionId");
    r.os.pretty_name = str(*os, "prettyName");
  }
  std::string size = str(n, "sizeBytes");
  r.size_bytes = size.empty() ? 0 : std::strtoll(size.c_str(), nullptr, 10);
  r.created = str(n, "created");
  if (!isDigest(r.id)) return invalidArgument("image record " + path + " has no valid id; remove it and pull again");
  for (const auto& l : r.layers) {
    bool pulled = isDigest(l);
    bool local = l.rfind("local:", 0) == 0 && l.size() == 6 + 32 &&
                 l.find_first_not_of("0123456789abcdef", 6) == std::string::npos;
    if (!pulled && !local) return invalidArgument("image record " + path + " names a bad layer id \"" + l + "\"");
  }
  return r;
}

std::string recordFile(const std::string& dir, std::string_view id) {
  return dir + "/records/" + std::string(digestHex(id)) + ".json";
}

Status writeRecord(const std::string& dir, const ImageRecord& r) {
  return fs::writeFileAtomic(recordFile(dir, r.id), doc::toJson(toNode(r)) + "\n");
}

// Names of the entries of `path` (no "." or ".."); empty when it is missing.
std::vector<std::string> entriesOf(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Disk space of a tree (each inode once, any depth); 0 when it cannot be measured.
int64_t treeBytes(const std::string& path) { return tree::diskUsage(path).value_or(0); }

// An os-release file of the stacked layers `dirs` (top first), read without following links.
OsRelease osOfLayers(const std::vector<std::string>& dirs) {
  bool etc_is_link = false;
  for (const auto& d : dirs) {
    if (d == "/") break;
    auto fd = sys::open(d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd) continue;
    if (!etc_is_link) {
      auto etc = beneath::readFile(fd->get(), "etc/os-release", 64 << 10);
      if (etc) return parseOsRelease(*etc);
      if (etc.error().code() == ErrorCode::kPermissionDenied) etc_is_link = true;  // a link: to usr/lib's
    }
    auto lib = beneath::readFile(fd->get(), "usr/lib/os-release", 64 << 10);
    if (lib) return parseOsRelease(*lib);
  }
  return {};
}

// The store's directories, root's alone.
Status makeStoreDirs(const std::string& dir) {
  for (const char* sub : {"", "/blobs", "/layers", "/records", "/tmp", "/locks"}) {
    KM_TRY(sys::makeDirs(dir + sub, 0700));
  }
  if (::chmod(dir.c_str(), 0700) != 0) return sys::errnoError("chmod", dir, errno);
  return ok();
}

// `ref` as a baked image's name: "docker.io/library/tools:1" → "localhost/tools:1".
Reference asLocal(const Reference& ref) {
  Reference local = ref;
  local.registry = std::string(kLocalRegistry);
  local.path = ref.path.substr(ref.path.find('/') + 1);
  return local;
}

// A JSON document from the blob store, its digest checked.
Result<doc::Node> readBlobJson(const std::string& blobs, const std::string& digest, std::string_view what) {
  if (!isDigest(digest)) return invalidArgument("the image's " + std::string(what) + " digest \"" + digest + "\" is not sha256");
  std::string path = blobs + "/sha256/" + std::string(digestHex(digest));
  auto text = fs::readFile(path, 8 << 20);
  if (!text) return std::move(text).error().context("the image's " + std::string(what));
  if (sha256Of(*text) != digest) {
    return invalidArgument("the image's " + std::string(what) + " " + path + " does not match its digest " + digest);
  }
  doc::Node n;
  std::string err;
  if (!doc::parseJson(*text, n, &err) || !n.isMap()) {
    return invalidArgument("the image's " + std::string(what) + " is not JSON: " + err);
  }
  return n;
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

}  // namespace

Result<FileLock> FileLock::take(const std::string& path, int op, bool wait) {
  auto fd = sys::open(path, O_RDWR | O_CREAT, 0600);
  if (!fd) return std::move(fd).error();
  FileLock l;
  while (true) {
    if (::flock(fd->get(), op | (wait ? 0 : LOCK_NB)) == 0) {
      l.held_ = true;
      break;
    }
    if (errno == EINTR) continue;
    if (!wait && errno == EWOULDBLOCK) break;
    return sys::errnoError("flock", path, errno);
  }
  l.fd_ = std::move(*fd);
  return l;
}

Status runSkopeo(const std::vector<std::string>& args, const std::function<void(std::string_view)>& line) {
  auto ran = runStreaming(args, line);
  if (!ran && ran.error().code() == ErrorCode::kNotFound) {
    return unavailable(args[0] + " is not installed: km pulls images with skopeo (apt-get install skopeo)");
  }
  if (!ran) return std::move(ran).error();
  if (ran->exit_code == 0) return ok();
  // skopeo repeats what the registry said: the registry's words, made harmless for a terminal.
  return unavailable("skopeo failed (exit " + std::to_string(ran->exit_code) + "): " + escapeForTerminal(ran->tail));
}

OsRelease parseOsRelease(std::string_view text) {
  OsRelease os;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), v = line.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    if (key == "ID") os.id = v;
    if (key == "VERSION_ID") os.version_id = v;
    if (key == "PRETTY_NAME") os.pretty_name = v;
  }
  return os;
}

Store::Store(std::string km_home) : km_home_(std::move(km_home)), dir_(km_home_ + "/images") {}

std::string Store::layerDir(std::string_view layer_id) const {
  if (layer_id.rfind("local:", 0) == 0) return dir_ + "/layers/local-" + std::string(layer_id.substr(6));
  return dir_ + "/layers/" + std::string(digestHex(layer_id));
}

Result<std::vector<std::string>> Store::lowerDirs(const ImageRecord& image) const {
  std::vector<std::string> dirs;
  for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it) {
    std::string d = layerDir(*it);
    if (!fs::isDirectory(d)) {
      std::string name = image.names.empty() ? image.id : image.names.front();
      return notFound("image " + name + " lacks its layer " + *it + " (removed by hand?); run `km image pull " +
                      name + "` again");
    }
    dirs.push_back(std::move(d));
  }
  if (image.on_host) dirs.emplace_back("/");
  return dirs;
}

Result<std::vector<ImageRecord>> Store::list() const {
  std::vector<ImageRecord> out;
  for (const auto& name : entriesOf(dir_ + "/records")) {
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    std::string path = dir_ + "/records/" + name;
    auto text = fs::readFile(path, 1 << 20);
    if (!text) continue;  // removed meanwhile
    auto r = fromJson(*text, path);
    if (!r) return std::move(r).error();
    out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(), [](const ImageRecord& a, const ImageRecord& b) {
    return a.created != b.created ? a.created > b.created : a.id < b.id;
  });
  return out;
}

Result<std::optional<ImageRecord>> Store::find(std::string_view name) const {
  auto all = list();
  if (!all) return std::move(all).error();
  std::string_view hex = name.rfind("sha256:", 0) == 0 ? name.substr(7) : name;
  if (hex.size() >= 12 && hex.find_first_not_of("0123456789abcdef") == std::string_view::npos) {
    std::optional<ImageRecord> hit;
    for (const auto& r : *all) {
      if (digestHex(r.id).substr(0, hex.size()) == hex) {
        if (hit) return invalidArgument("\"" + std::string(name) + "\" fits more than one image id; give more digits");
        hit = r;
      }
    }
    if (hit || name.rfind("sha256:", 0) == 0) return hit;
  }
  auto ref = parseReference(name);
  if (!ref) return std::move(ref).error();
  std::vector<std::string> wanted;
  // A short name ("tools") means a baked image first, as podman reads it.
  bool short_name = name.find('/') == std::string_view::npos;
  if (short_name) {
    wanted.push_back(asLocal(*ref).str());
  }
  wanted.push_back(ref->str());
  for (const auto& w : wanted) {
    for (const auto& r : *all) {
      if (std::find(r.names.begin(), r.names.end(), w) != r.names.end()) return std::optional<ImageRecord>(r);
    }
  }
  return std::optional<ImageRecord>();
}

namespace {

// Writes new image `rec` (its one name first) under the records lock. The name moves here from
// any image it named before (which is kept without it until `km image rm` or prune); a record
// of the same id (the same image pulled under another name) keeps its names.
Status recordImage(const Store& store, ImageRecord& rec) {
  auto records_lock = FileLock::take(store.dir() + "/locks/records.lock", LOCK_EX);
  if (!records_lock) return std::move(records_lock).error();
  auto all = store.list();
  if (!all) return std::move(all).error();
  const std::string name = rec.names.front();
  for (auto& r : *all) {
    if (r.id == rec.id) {
      for (const auto& n : r.names) {
        if (std::find(rec.names.begin(), rec.names.end(), n) == rec.names.end()) rec.names.push_back(n);
      }
      continue;
    }
    auto it = std::find(r.names.begin(), r.names.end(), name);
    if (it == r.names.end()) continue;
    r.names.erase(it);
    KM_TRY(writeRecord(store.dir(), r));
  }
  return writeRecord(store.dir(), rec);
}

}  // namespace

Result<ImageRecord> Store::pull(const Reference& ref, const PullOptions& opt) {
  auto say = [&](std::string_view line) {
    if (opt.progress) opt.progress(line);
  };
  KM_TRY(makeStoreDirs(dir_));
  const std::string name = ref.str();
  // One pull per name at a time; one that waited takes the other's result.
  std::string lock_path = dir_ + "/locks/pull-" + std::string(digestHex(sha256Of(name)).substr(0, 16)) + ".lock";
  auto lock = FileLock::take(lock_path, LOCK_EX, /*wait=*/false);
  if (!lock) return std::move(lock).error();
  if (!lock->held()) {
    say("another km is pulling " + name + "; waiting for it");
    lock = FileLock::take(lock_path, LOCK_EX);
    if (!lock) return std::move(lock).error();
    auto found = find(name);
    if (!found) return std::move(found).error();
    if (*found) return **found;
  }
  // Prune must not remove what this pull unpacked before its record exists.
  auto gc = FileLock::take(dir_ + "/locks/gc.lock", LOCK_SH);
  if (!gc) return std::move(gc).error();
  const std::string blobs = dir_ + "/blobs";
  const std::string layout = dir_ + "/tmp/pull-" + randomHex(8);
  struct Cleanup {
    std::string path;
    ~Cleanup() { (void)tree::removeTree(path); }
  } cleanup{layout};
  std::vector<std::string> args = {opt.skopeo, "copy", "--retry-times", "2", "--dest-shared-blob-dir", blobs};
  std::string registry = ref.registry;
  bool insecure = std::find(opt.insecure_registries.begin(), opt.insecure_registries.end(), registry) !=
                  opt.insecure_registries.end();
  if (insecure) args.emplace_back("--src-tls-verify=false");
  if (!opt.cert_dir.empty()) args.insert(args.end(), {"--src-cert-dir", opt.cert_dir});
  if (!opt.auth_file.empty()) args.insert(args.end(), {"--src-authfile", opt.auth_file});
  args.push_back("docker://" + name);
  args.push_back("oci:" + layout + ":km");
  say("pulling " + name);
  KM_TRY(runSkopeo(args, [&](std::string_view l) { say("  " + std::string(l)); }));
  // What skopeo wrote: index.json → the manifest → the config and layers, each checked.
  auto index_text = fs::readFile(layout + "/index.json", 1 << 20);
  if (!index_text) return std::move(index_text).error().context("skopeo's OCI layout");
  doc::Node index;
  std::string err;
  if (!doc::parseJson(*index_text, index, &err) || !index.isMap()) {
    return invalidArgument("skopeo's index.json is not JSON: " + err);
  }
  const doc::Node* manifests = index.find("manifests");
  if (!manifests || !manifests->isSeq() || manifests->items().size() != 1) {
    return invalidArgument("skopeo's index.json does not list exactly one manifest");
  }
  std::string manifest_digest = str(manifests->items()[0], "digest");
  auto manifest = readBlobJson(blobs, manifest_digest, "manifest");
  if (!manifest) return std::move(manifest).error();
  const doc::Node* config_desc = manifest->find("config");
  const doc::Node* layers = manifest->find("layers");
  if (!config_desc || !config_desc->isMap() || !layers || !layers->isSeq()) {
    return invalidArgument("the manifest of " + name + " has no config or layers");
  }
  std::string config_digest = str(*config_desc, "digest");
  auto config = readBlobJson(blobs, config_digest, "config");
  if (!config) return std::move(config).error();
  std::vector<std::string> diff_ids;
  if (const doc::Node* rootfs = config->find("rootfs"); rootfs && rootfs->isMap()) diff_ids = strList(*rootfs, "diff_ids");
  if (diff_ids.size() != layers->items().size()) {
    return invalidArgument("the image " + name + " lists " + std::to_string(layers->items().size()) +
                           " layers but its config " + std::to_string(diff_ids.size()) + " diff ids");
  }
  ImageRecord rec;
  rec.id = manifest_digest;
  rec.names = {name};
  rec.manifest_digest = manifest_digest;
  rec.config_digest = config_digest;
  rec.source = "docker://" + name;
  rec.architecture = str(*config, "architecture");
  rec.created = nowIso();
  const size_t count = diff_ids.size();
  for (size_t i = 0; i < count; ++i) {
    const doc::Node& desc = layers->items()[i];
    std::string blob = str(desc, "digest");
    const std::string& diff_id = diff_ids[i];
    if (!isDigest(blob) || !isDigest(diff_id)) {
      return invalidArgument("layer " + std::to_string(i + 1) + " of " + name + " has a digest that is not sha256");
    }
    rec.layers.push_back(diff_id);
    rec.blobs.push_back(blob);
    std::string target = layerDir(diff_id);
    std::string layer_lock = dir_ + "/locks/layer-" + std::string(digestHex(diff_id).substr(0, 16)) + ".lock";
    auto ll = FileLock::take(layer_lock, LOCK_EX);
    if (!ll) return std::move(ll).error();
    std::string label = "layer " + std::to_string(i + 1) + "/" + std::to_string(count) + " " +
                        std::string(digestHex(blob).substr(0, 12));
    if (fs::isDirectory(target)) {
      struct stat st {};
      std::string blob_path = blobs + "/sha256/" + std::string(digestHex(blob));
      if (::stat(blob_path.c_str(), &st) == 0) rec.size_bytes += st.st_size;
      say(label + ": already unpacked");
      continue;
    }
    std::string tmp = dir_ + "/layers/.tmp-" + randomHex(8);
    KM_TRY(sys::makeDirs(tmp, 0755));
    char real[PATH_MAX];
    if (!::realpath(tmp.c_str(), real)) return sys::errnoError("realpath", tmp, errno);
    std::string blob_path = blobs + "/sha256/" + std::string(digestHex(blob));
    say("unpacking " + label);
    auto stats = unpackLayer(blob_path, blob, diff_id, real, [&](uint64_t bytes) {
      say("  " + label + ": " + mib(bytes) + " read");
    });
    if (!stats) {
      (void)tree::removeTree(tmp);
      return std::move(stats).error().context("pulling " + name);
    }
    rec.size_bytes += static_cast<int64_t>(stats->tar_bytes);
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
      int e = errno;
      (void)tree::removeTree(tmp);
      if (e != EEXIST && e != ENOTEMPTY) return sys::errnoError("rename", target, e);
    }
    say("  " + label + ": " + mib(stats->tar_bytes) + ", " + std::to_string(stats->entries) + " entries");
  }
  auto dirs = lowerDirs(rec);
  if (!dirs) return std::move(dirs).error();
  rec.os = osOfLayers(*dirs);
  KM_TRY(recordImage(*this, rec));
  say("pulled " + name + " (" + rec.id.substr(0, 19) + ", " + (rec.os.pretty_name.empty() ? "unknown OS" : rec.os.pretty_name) + ")");
  return rec;
}

Result<ImageRecord> Store::remove(std::string_view name, const std::set<std::string>& in_use) {
  auto records_lock = FileLock::take(dir_ + "/locks/records.lock", LOCK_EX);
  if (!records_lock) return std::move(records_lock).error();
  auto found = find(name);
  if (!found) return std::move(found).error();
  if (!*found) return notFound("no image named " + std::string(name) + " (km image list shows them)");
  ImageRecord r = **found;
  // Which of its names `name` is (none: it named the image by id).
  auto matches = [&](const std::string& n) {
    auto ref = parseReference(name);
    if (!ref) return false;
    if (n == ref->str()) return true;
    return name.find('/') == std::string_view::npos && n == asLocal(*ref).str();
  };
  auto it = std::find_if(r.names.begin(), r.names.end(), matches);
  if (it != r.names.end() && r.names.size() > 1) {
    r.names.erase(it);  // the image stays under its other names
    KM_TRY(writeRecord(dir_, r));
    return r;
  }
  if (in_use.count(r.id) != 0) {
    return permissionDenied("image " + std::string(name) + " is in use by a sandbox; destroy that first (km list)");
  }
  auto all = list();
  if (!all) return std::move(all).error();
  for (const auto& other : *all) {
    if (other.parent == r.id) {
      std::string child = other.names.empty() ? other.id : other.names.front();
      return permissionDenied("image " + std::string(name) + " is the parent of " + child + "; remove that first");
    }
  }
  if (::unlink(recordFile(dir_, r.id).c_str()) != 0 && errno != ENOENT) {
    return sys::errnoError("unlink", recordFile(dir_, r.id), errno);
  }
  return r;
}

Result<PruneReport> Store::prune(const std::set<std::string>& in_use, const std::set<std::string>& in_use_layers) {
  PruneReport rep;
  if (!fs::isDirectory(dir_)) return rep;
  auto gc = FileLock::take(dir_ + "/locks/gc.lock", LOCK_EX);
  if (!gc) return std::move(gc).error();
  auto records_lock = FileLock::take(dir_ + "/locks/records.lock", LOCK_EX);
  if (!records_lock) return std::move(records_lock).error();
  auto all = list();
  if (!all) return std::move(all).error();
  // Unnamed images go first (repeatedly: removing a baked child frees its parent).
  bool removed = true;
  while (removed) {
    removed = false;
    for (auto it = all->begin(); it != all->end(); ++it) {
      if (!it->names.empty() || in_use.count(it->id) != 0) continue;
      bool parent = std::any_of(all->begin(), all->end(), [&](const ImageRecord& o) { return o.parent == it->id; });
      if (parent) continue;
      if (::unlink(recordFile(dir_, it->id).c_str()) != 0 && errno != ENOENT) {
        return sys::errnoError("unlink", recordFile(dir_, it->id), errno);
      }
      rep.images.push_back(it->id);
      all->erase(it);
      removed = true;
      break;
    }
  }
  std::set<std::string> keep_layers = in_use_layers, keep_blobs;
  for (const auto& r : *all) {
    keep_layers.insert(r.layers.begin(), r.layers.end());
    keep_blobs.insert(r.blobs.begin(), r.blobs.end());
    keep_blobs.insert(r.manifest_digest);
    keep_blobs.insert(r.config_digest);
  }
  std::set<std::string> keep_dirs;
  for (const auto& l : keep_layers) keep_dirs.insert(layerDir(l));
  for (const auto& entry : entriesOf(dir_ + "/layers")) {
    std::string path = dir_ + "/layers/" + entry;
    if (keep_dirs.count(path) != 0) continue;
    int64_t bytes = treeBytes(path);
    KM_TRY(tree::removeTree(path));
    rep.bytes += bytes;
    if (entry.rfind(".tmp-", 0) != 0) {
      rep.layers.push_back(entry.rfind("local-", 0) == 0 ? "local:" + entry.substr(6) : "sha256:" + entry);
    }
  }
  for (const auto& entry : entriesOf(dir_ + "/blobs/sha256")) {
    if (keep_blobs.count("sha256:" + entry) != 0) continue;
    std::string path = dir_ + "/blobs/sha256/" + entry;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) rep.bytes += st.st_size;
    if (::unlink(path.c_str()) == 0) ++rep.blobs;
  }
  for (const auto& entry : entriesOf(dir_ + "/tmp")) KM_TRY(tree::removeTree(dir_ + "/tmp/" + entry));
  return rep;
}

Result<ImageRecord> Store::bake(const std::string& upper, const std::optional<ImageRecord>& parent,
                                const Reference& name, const std::string& source) {
  KM_TRY(makeStoreDirs(dir_));
  auto gc = FileLock::take(dir_ + "/locks/gc.lock", LOCK_SH);
  if (!gc) return std::move(gc).error();
  std::string layer_id = "local:" + randomHex(16);
  std::string target = layerDir(layer_id);
  std::string tmp = dir_ + "/layers/.tmp-" + randomHex(8);
  // No image km pulls may be that deep (unpack.h), and copying, archiving and removing such a
  // tree costs the square of its depth: refused before anything is copied.
  if (auto s = tree::checkDepth(upper, kMaxLayerDepth); !s) {
    return invalidArgument("the sandbox's writes cannot be baked: " + s.error().message() +
                           "; an image pulled by km holds at most " + std::to_string(kMaxLayerDepth) +
                           " levels, so remove that tree first");
  }
  if (auto s = tree::copyTree(upper, tmp); !s) {
    (void)tree::removeTree(tmp);
    return std::move(s).error().context("copying the sandbox's writes");
  }
  // Per-sandbox files km writes at every first start are not the image's. The copy is the
  // sandbox's tree: its etc may be a symlink (to anywhere on the host), which is never
  // followed; then nothing is removed.
  auto copy = sys::open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!copy) return std::move(copy).error();
  if (auto etc = beneath::openDir(copy->get(), "etc", /*create=*/false, 0, std::nullopt)) {
    for (const char* f : {"hosts", "resolv.conf"}) ::unlinkat(etc->get(), f, 0);
  }
  ::fchmod(copy->get(), 0755);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int e = errno;
    (void)tree::removeTree(tmp);
    return sys::errnoError("rename", target, e);
  }
  ImageRecord rec;
  rec.layers = parent ? parent->layers : std::vector<std::string>{};
  rec.layers.push_back(layer_id);
  rec.blobs = parent ? parent->blobs : std::vector<std::string>{};
  rec.blobs.emplace_back();
  rec.on_host = !parent || parent->on_host;
  rec.parent = parent ? parent->id : std::string(kHostParent);
  rec.architecture = parent ? parent->architecture : "";
  rec.config_digest = parent ? parent->config_digest : "";  // the base's config (for push)
  rec.id = sha256Of(rec.parent + "\n" + layer_id);
  rec.names = {name.str()};
  rec.source = source;
  rec.created = nowIso();
  rec.size_bytes = (parent ? parent->size_bytes : 0) + treeBytes(target);
  auto dirs = lowerDirs(rec);
  if (!dirs) return std::move(dirs).error();
  if (rec.on_host) {
    auto text = fs::readFile("/etc/os-release", 64 << 10);
    rec.os = parseOsRelease(text ? *text : "");
    OsRelease top = osOfLayers({dirs->front()});
    if (!top.id.empty()) rec.os = top;
  } else {
    rec.os = osOfLayers(*dirs);
  }
  KM_TRY(recordImage(*this, rec));
  return rec;
}

Result<LayerPin> pinLayers(const std::string& km_home) {
  std::string locks = km_home + "/images/locks";
  KM_TRY(sys::makeDirs(locks, 0700));
  auto lock = FileLock::take(locks + "/gc.lock", LOCK_SH);
  if (!lock) return std::move(lock).error();
  return LayerPin(std::move(*lock).release());
}

}  // namespace km::image
