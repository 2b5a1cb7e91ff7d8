#include "audit/exec_audit.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <dirent.h>
#include <linux/magic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cstdio>
#include <thread>
#include <optional>
#include <vector>

#include "audit/bpf/exec_shared.h"
#include "audit/bpf/km_exec.skel.h"
#include "audit/exec_event.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/subprocess.h"
#include "core/sys.h"
#include "core/warning_pacer.h"

namespace km::audit {
namespace {

constexpr std::string_view kLog = "km.audit";
constexpr int kReadEveryMs = 100;

Error bpfError(std::string_view what, int err) {
  if (err < 0) err = -err;
  return sys::errnoError(what, "eBPF", err);
}

int64_t nowNs(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

// The programs and the two maps every sandbox shares (see exec.bpf.c). Shared by pins on
// bpffs: the first supervisor of the host loads them (tens of ms), the others open them (tens
// of µs). The programs stay loaded, unattached, when no sandbox is audited; the links that
// attach them exist only while one is. Where nothing can be pinned (no bpffs), a supervisor
// loads a private set and holds its links itself.
struct SkeletonDestroy {
  void operator()(km_exec* s) const { km_exec__destroy(s); }  // detaches its links, frees what no pin keeps
};
using Skeleton = std::unique_ptr<km_exec, SkeletonDestroy>;

struct Programs {
  std::string dir;  // the pins; "" for a private set
  Skeleton skel;    // a private set
  sys::UniqueFd sandboxes, rings, on_exec, on_exit;
};

struct ExecAudit::Impl {
  Programs programs;
  sys::UniqueFd ring_map;  // this sandbox's ring
  uint64_t sandbox = 0;    // its cgroup's id, once registered
  uint32_t ns_level = 0;
  ring_buffer* ring = nullptr;
  sys::UniqueFd wake;   // eventfd: stop() wakes the thread
  sys::UniqueFd epoll;
  Writer* out = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> recorded{0}, lost{0};
  uint64_t unreadable = 0;  // records of an unknown shape (never from km's programs)
  int64_t offset_ns = 0;    // wall − monotonic, refreshed each turn
  WarningPacer lost_warnings;

  ~Impl() {
    if (ring) ring_buffer__free(ring);
  }

  static int onRecord(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    auto record = execEventRecord(data, size, self->offset_ns);
    if (!record) {
      ++self->unreadable;
      return 0;
    }
    self->out->add(*record);
    self->recorded.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }

  uint64_t lostInKernel() const {
    km_sandbox entry{};
    if (bpf_map_lookup_elem(programs.sandboxes.get(), &sandbox, &entry) != 0) return lost.load(std::memory_order_relaxed);
    return entry.lost;
  }

  // One turn: what the ring holds, a gap record for what it could not hold, the writer flushed.
  void turn() {
    offset_ns = nowNs(CLOCK_REALTIME) - nowNs(CLOCK_MONOTONIC);
    ring_buffer__consume(ring);
    uint64_t kernel_lost = lostInKernel();
    uint64_t before = lost.load(std::memory_order_relaxed);
    if (kernel_lost > before) {
      GapRecord gap;
      gap.time = WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nowNs(CLOCK_REALTIME))));
      gap.source = "exec";
      gap.count = kernel_lost - before;
      out->add(gap);
      lost.store(kernel_lost, std::memory_order_relaxed);
      if (lost_warnings.due(std::chrono::steady_clock::now(), gap.count)) {
        lost_warnings.take();
        log::warn(kLog, "command log: " + std::to_string(kernel_lost) +
                            " exec/exit records lost so far (the sandbox executed faster than they were read)");
      }
    }
    out->flush(std::chrono::steady_clock::now());
  }

  void run() {
    epoll_event events[2];
    while (!stopping.load(std::memory_order_acquire)) {
      int n = ::epoll_wait(epoll.get(), events, 2, kReadEveryMs);
      if (n < 0 && errno != EINTR) {
        log::warn(kLog, "command log: epoll_wait: " + std::string(std::strerror(errno)));
        ::usleep(kReadEveryMs * 1000);
      }
      turn();
    }
    turn();  // what came before the stop
  }
};

ExecAudit::ExecAudit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ExecAudit::~ExecAudit() { stop(); }

namespace {

constexpr const char* kPinRoot = "/sys/fs/bpf/km";
constexpr const char* kPinPrefix = "exec-audit-";
constexpr const char* kRunDir = "/run/km";
constexpr const char* kLockPath = "/run/km/exec-audit.lock";
// The pins of one set; the links' only while a sandbox is registered.
constexpr const char* kSandboxesPin = "sandboxes";
constexpr const char* kRingsPin = "rings";
constexpr const char* kOnExecPin = "on_exec";
constexpr const char* kOnExitPin = "on_exit";
constexpr const char* kExecLinkPin = "link_exec";
constexpr const char* kExitLinkPin = "link_exit";
constexpr const char* kAllPins[] = {kExecLinkPin, kExitLinkPin, kOnExecPin, kOnExitPin, kSandboxesPin, kRingsPin};

// FNV-1a, for naming a cache file (not for security: the file lives where only root writes).
uint64_t fnv1a(std::string_view data, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string_view programObject() {
  size_t size = 0;
  const void* elf = km_exec__elf_bytes(&size);
  return {static_cast<const char*>(elf), size};
}

// Names what belongs to this build's programs on this kernel: a new km (or kernel) gets its
// own set of pins and its own minimal BTF. "" when the kernel's version cannot be read.
std::string programTag() {
  auto release = fs::readFile("/proc/sys/kernel/osrelease", 256);
  auto version = fs::readFile("/proc/sys/kernel/version", 256);
  if (!release || !version) return "";
  char tag[17];
  std::snprintf(tag, sizeof tag, "%016llx", static_cast<unsigned long long>(fnv1a(programObject(), fnv1a(*release + *version))));
  return tag;
}

// The kernel's BTF cut down to the types the programs read (bpftool gen min_core_btf), made
// once per kernel and program and kept in /run/km: libbpf then relocates against 1 KB instead
// of parsing the kernel's 5 MB, which took most of a load (~50 ms). "" when it cannot be made
// (no bpftool, no /run): the programs then load against the kernel's BTF.
std::string minimalBtf(const std::string& tag) {
  if (tag.empty()) return "";
  const std::string path = std::string(kRunDir) + "/" + kPinPrefix + tag + ".btf";
  if (fs::exists(path)) return path;
  std::string bpftool = fs::exists("/usr/sbin/bpftool") ? "/usr/sbin/bpftool" : "/sbin/bpftool";
  if (!fs::exists(bpftool)) return "";
  // Private names for this process's attempt; the rename makes the file appear whole.
  std::string tmp = path + "." + std::to_string(::getpid());
  if (!sys::replaceFile(tmp + ".o", programObject(), 0600)) return "";
  auto made = runCaptured({bpftool, "gen", "min_core_btf", "/sys/kernel/btf/vmlinux", tmp, tmp + ".o"}, "", 4096,
                          std::chrono::seconds(30));
  ::unlink((tmp + ".o").c_str());
  if (!made || made->exit_code != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    log::warn(kLog, "command log: no minimal BTF for the exec audit (" +
                        (made ? made->err.substr(0, 200) : made.error().message()) + "); loading against the kernel's");
    return "";
  }
  return path;
}

// Opens and verifies the programs (against the minimal BTF when there is one).
Result<Skeleton> loadSkeleton(const std::string& tag) {
  libbpf_set_print(nullptr);
  std::string btf = minimalBtf(tag);
  auto attempt = [&](const char* btf_path) -> Result<Skeleton> {
    LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_path);
    Skeleton skel(km_exec__open_opts(&opts));
    if (!skel) return bpfError("opening the exec audit programs", errno);
    if (int rc = km_exec__load(skel.get()); rc) {
      return bpfError("loading the exec audit programs (a kernel with BTF and bpf_loop, 5.17 or later, is needed)", rc);
    }
    return skel;
  };
  auto skel = attempt(btf.empty() ? nullptr : btf.c_str());
  if (!skel && !btf.empty()) {
    ::unlink(btf.c_str());  // a cached file that does not fit this kernel: made again next time
    skel = attempt(nullptr);
  }
  return skel;
}

// Held while pins are looked at or changed: supervisors start and stop concurrently.
Result<sys::UniqueFd> lockPins() {
  if (::mkdir(kRunDir, 0700) != 0 && errno != EEXIST) return sys::errnoError("mkdir", kRunDir, errno);
  auto lock = sys::open(kLockPath, O_RDWR | O_CREAT, 0600);
  if (!lock) return std::move(lock).error();
  if (::flock(lock->get(), LOCK_EX) != 0) return sys::errnoError("flock", kLockPath, errno);
  return lock;
}

bool onBpffs(const char* path) {
  struct statfs st {};
  return ::statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

void removePins(const std::string& dir) {
  for (const char* pin : kAllPins) ::unlink((dir + "/" + pin).c_str());
  ::rmdir(dir.c_str());
}

Result<sys::UniqueFd> getPin(const std::string& dir, const char* pin) {
  std::string path = dir + "/" + pin;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return bpfError("opening " + path, errno);
  return sys::UniqueFd(fd);
}

// The shared set, loaded and pinned by the first caller. Under lockPins().
Result<Programs> sharedPrograms(const std::string& tag) {
  if (tag.empty() || !onBpffs("/sys/fs/bpf")) return unavailable("no bpffs at /sys/fs/bpf to share the programs on");
  if (::mkdir(kPinRoot, 0700) != 0 && errno != EEXIST) return sys::errnoError("mkdir", kPinRoot, errno);
  Programs p;
  p.dir = std::string(kPinRoot) + "/" + kPinPrefix + tag;
  auto open = [&]() -> Status {
    auto sandboxes = getPin(p.dir, kSandboxesPin);
    auto rings = getPin(p.dir, kRingsPin);
    auto on_exec = getPin(p.dir, kOnExecPin);
    auto on_exit = getPin(p.dir, kOnExitPin);
    for (auto* r : {&sandboxes, &rings, &on_exec, &on_exit}) {
      if (!*r) return std::move(*r).error();
    }
    p.sandboxes = std::move(*sandboxes);
    p.rings = std::move(*rings);
    p.on_exec = std::move(*on_exec);
    p.on_exit = std::move(*on_exit);
    return ok();
  };
  if (open()) return p;
  // None yet (or a set half pinned by a supervisor that died): load, pin, open.
  removePins(p.dir);
  if (::mkdir(p.dir.c_str(), 0700) != 0) return sys::errnoError("mkdir", p.dir, errno);
  auto skel = loadSkeleton(tag);
  if (!skel) {
    removePins(p.dir);
    return std::move(skel).error();
  }
  std::pair<int, const char*> pins[] = {{bpf_map__fd((*skel)->maps.km_exec_sandboxes), kSandboxesPin},
                                        {bpf_map__fd((*skel)->maps.km_exec_rings), kRingsPin},
                                        {bpf_program__fd((*skel)->progs.km_on_exec), kOnExecPin},
                                        {bpf_program__fd((*skel)->progs.km_on_exit), kOnExitPin}};
  for (auto [fd, pin] : pins) {
    std::string path = p.dir + "/" + pin;
    if (bpf_obj_pin(fd, path.c_str()) != 0) {
      int err = errno;
      removePins(p.dir);
      return bpfError("pinning " + path, err);
    }
  }
  if (Status opened = open(); !opened) {
    removePins(p.dir);
    return std::move(opened).error();
  }
  return p;
}

Result<Programs> privatePrograms(const std::string& tag) {
  auto skel = loadSkeleton(tag);
  if (!skel) return std::move(skel).error();
  Programs p;
  p.skel = std::move(*skel);
  p.sandboxes.reset(::fcntl(bpf_map__fd(p.skel->maps.km_exec_sandboxes), F_DUPFD_CLOEXEC, 0));
  p.rings.reset(::fcntl(bpf_map__fd(p.skel->maps.km_exec_rings), F_DUPFD_CLOEXEC, 0));
  if (!p.sandboxes.valid() || !p.rings.valid()) return sys::errnoError("dup", "the exec audit's maps", errno);
  return p;
}

bool anyRegistered(int sandboxes) {
  uint64_t key = 0;
  return bpf_map_get_next_key(sandboxes, nullptr, &key) == 0;
}

// Attaches the shared programs while a sandbox is registered, detaches them when none is (the
// pins of the links are what keep them). Under lockPins().
Status attachShared(const Programs& p) {
  // Another build's supervisor may have swept this set's pins away while it had no sandbox
  // (between our load and this start): the objects live on in our descriptors; pin them again.
  if (::mkdir(p.dir.c_str(), 0700) != 0 && errno != EEXIST) return sys::errnoError("mkdir", p.dir, errno);
  std::pair<int, const char*> objects[] = {
      {p.sandboxes.get(), kSandboxesPin}, {p.rings.get(), kRingsPin}, {p.on_exec.get(), kOnExecPin}, {p.on_exit.get(), kOnExitPin}};
  for (auto [fd, pin] : objects) {
    std::string path = p.dir + "/" + pin;
    if (!fs::exists(path) && bpf_obj_pin(fd, path.c_str()) != 0) return bpfError("pinning " + path, errno);
  }
  std::pair<int, const char*> links[] = {{p.on_exec.get(), kExecLinkPin}, {p.on_exit.get(), kExitLinkPin}};
  const char* points[] = {"sched_process_exec", "sched_process_exit"};
  for (size_t i = 0; i < 2; ++i) {
    std::string path = p.dir + "/" + links[i].second;
    if (fs::exists(path)) continue;
    sys::UniqueFd link(bpf_raw_tracepoint_open(points[i], links[i].first));
    if (!link.valid()) return bpfError(std::string("attaching the exec audit to ") + points[i], errno);
    if (bpf_obj_pin(link.get(), path.c_str()) != 0) return bpfError("pinning " + path, errno);
  }
  return ok();
}

void detachSharedIfUnused(const std::string& dir, int sandboxes) {
  if (anyRegistered(sandboxes)) return;
  ::unlink((dir + "/" + kExecLinkPin).c_str());
  ::unlink((dir + "/" + kExitLinkPin).c_str());
}

// A cgroup's id (what bpf_get_current_ancestor_cgroup_id gives): its kernfs file handle.
struct CgroupHandle {
  alignas(file_handle) unsigned char bytes[sizeof(file_handle) + sizeof(uint64_t)] = {};
  file_handle* get() { return reinterpret_cast<file_handle*>(bytes); }
};

Result<uint64_t> cgroupId(const std::string& dir) {
  CgroupHandle h;
  h.get()->handle_bytes = sizeof(uint64_t);
  int mount_id = 0;
  if (::name_to_handle_at(AT_FDCWD, dir.c_str(), h.get(), &mount_id, 0) != 0) {
    return sys::errnoError("name_to_handle_at", dir, errno);
  }
  if (h.get()->handle_bytes != sizeof(uint64_t)) {
    return internalError("a cgroup file handle of " + std::to_string(h.get()->handle_bytes) + " bytes: " + dir);
  }
  uint64_t id = 0;
  std::memcpy(&id, h.get()->f_handle, sizeof id);
  return id;
}

// Whether the cgroup `id` still exists on the cgroup2 filesystem `mount_fd` is on.
bool cgroupExists(int mount_fd, uint64_t id) {
  CgroupHandle h;
  h.get()->handle_bytes = sizeof id;
  h.get()->handle_type = 0xfe;  // FILEID_KERNFS
  std::memcpy(h.get()->f_handle, &id, sizeof id);
  int fd = ::open_by_handle_at(mount_fd, h.get(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  return errno != ESTALE && errno != ENOENT;  // unsure (EPERM, …): keep it
}

// Drops the entries of sandboxes whose cgroup is gone (a supervisor killed, then the sandbox
// destroyed without it), and the sets of older builds that no sandbox uses. Under lockPins().
void sweepLocked(const std::string& cgroup_any, const std::string& current_dir) {
  sys::UniqueFd mount(::open(cgroup_any.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* root = ::opendir(kPinRoot);
  if (!root) return;
  std::vector<std::string> dirs;
  while (dirent* e = ::readdir(root)) {
    std::string_view name = e->d_name;
    if (name.starts_with(kPinPrefix)) dirs.push_back(std::string(kPinRoot) + "/" + std::string(name));
  }
  ::closedir(root);
  for (const std::string& dir : dirs) {
    auto sandboxes = getPin(dir, kSandboxesPin);
    auto rings = getPin(dir, kRingsPin);
    if (!sandboxes || !rings) {
      if (dir != current_dir) removePins(dir);  // half a set
      continue;
    }
    if (mount.valid()) {
      std::vector<uint64_t> gone;
      uint64_t key = 0, next = 0;
      const uint64_t* prev = nullptr;
      for (int i = 0; i < KM_EXEC_SANDBOXES && bpf_map_get_next_key(sandboxes->get(), prev, &next) == 0; ++i) {
        if (!cgroupExists(mount.get(), next)) gone.push_back(next);
        key = next;
        prev = &key;
      }
      for (uint64_t id : gone) {
        (void)bpf_map_delete_elem(sandboxes->get(), &id);
        (void)bpf_map_delete_elem(rings->get(), &id);
      }
    }
    if (dir == current_dir) {
      detachSharedIfUnused(dir, sandboxes->get());
    } else if (!anyRegistered(sandboxes->get())) {
      removePins(dir);  // an older km's, unused: its programs go with the last pin
    }
  }
}

}  // namespace

Result<std::unique_ptr<ExecAudit>> ExecAudit::load(uint32_t ns_level) {
  if (!fs::exists("/sys/kernel/btf/vmlinux")) {
    return unavailable("the kernel has no BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF): commands cannot be audited");
  }
  std::string tag = programTag();
  auto impl = std::make_unique<Impl>();
  impl->ns_level = ns_level;
  {
    auto lock = lockPins();
    auto shared = lock ? sharedPrograms(tag) : Result<Programs>(std::move(lock).error());
    if (shared) {
      impl->programs = std::move(*shared);
    } else {
      log::debug(kLog, "command log: private exec audit programs: " + shared.error().message());
      auto own = privatePrograms(tag);
      if (!own) return std::move(own).error();
      impl->programs = std::move(*own);
    }
  }
  impl->ring_map.reset(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "km_exec_ring", 0, 0, KM_EXEC_RING_BYTES, nullptr));
  if (!impl->ring_map.valid()) return bpfError("creating the command log's ring buffer", errno);
  return std::unique_ptr<ExecAudit>(new ExecAudit(std::move(impl)));
}

Status ExecAudit::start(const std::string& cgroup_v2_dir, Writer& out) {
  Impl& m = *impl_;
  if (m.thread.joinable()) return internalError("the exec audit runs already");
  auto id = cgroupId(cgroup_v2_dir);
  if (!id) return std::move(id).error();
  m.ring = ring_buffer__new(m.ring_map.get(), &Impl::onRecord, &m, nullptr);
  if (!m.ring) return bpfError("ring_buffer__new", errno);
  m.wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  m.epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!m.wake.valid() || !m.epoll.valid()) return sys::errnoError("eventfd/epoll", "the exec audit", errno);
  for (int fd : {ring_buffer__epoll_fd(m.ring), m.wake.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(m.epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return sys::errnoError("epoll_ctl", "the exec audit", errno);
  }
  // The ring first: a registered sandbox always has one.
  km_sandbox entry{};
  entry.ns_level = m.ns_level;
  int ring_fd = m.ring_map.get();
  {
    std::optional<Result<sys::UniqueFd>> lock;
    if (!m.programs.dir.empty()) {
      lock.emplace(lockPins());
      if (!*lock) return std::move(*lock).error();
      sweepLocked(cgroup_v2_dir, m.programs.dir);
    }
    if (bpf_map_update_elem(m.programs.rings.get(), &*id, &ring_fd, BPF_ANY) != 0 ||
        bpf_map_update_elem(m.programs.sandboxes.get(), &*id, &entry, BPF_ANY) != 0) {
      int err = errno;
      (void)bpf_map_delete_elem(m.programs.rings.get(), &*id);
      return bpfError("registering the sandbox's cgroup with the exec audit", err);
    }
    m.sandbox = *id;
    Status attached = m.programs.skel ? (km_exec__attach(m.programs.skel.get()) == 0 ? ok() : bpfError("attaching the exec audit programs", errno))
                                      : attachShared(m.programs);
    if (!attached) {
      (void)bpf_map_delete_elem(m.programs.sandboxes.get(), &m.sandbox);
      (void)bpf_map_delete_elem(m.programs.rings.get(), &m.sandbox);
      m.sandbox = 0;
      if (!m.programs.dir.empty()) detachSharedIfUnused(m.programs.dir, m.programs.sandboxes.get());
      return attached;
    }
  }
  m.out = &out;
  m.stopping.store(false);
  m.thread = std::thread([&m] { m.run(); });
  return ok();
}

void ExecAudit::stop() {
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  // Out of the maps first: the thread's last read then takes all there is.
  {
    std::optional<Result<sys::UniqueFd>> lock;
    if (!m.programs.dir.empty()) lock.emplace(lockPins());
    (void)bpf_map_delete_elem(m.programs.sandboxes.get(), &m.sandbox);
    (void)bpf_map_delete_elem(m.programs.rings.get(), &m.sandbox);
    if (!m.programs.dir.empty()) detachSharedIfUnused(m.programs.dir, m.programs.sandboxes.get());
  }
  m.stopping.store(true, std::memory_order_release);
  uint64_t one = 1;
  (void)!::write(m.wake.get(), &one, sizeof one);
  m.thread.join();
  if (m.programs.skel) km_exec__detach(m.programs.skel.get());
}

void ExecAudit::sweep(const std::string& cgroup_v2_dir) {
  if (!fs::exists(kPinRoot)) return;
  auto lock = lockPins();
  if (!lock) return;
  sweepLocked(cgroup_v2_dir, std::string(kPinRoot) + "/" + kPinPrefix + programTag());
}

uint64_t ExecAudit::recorded() const { return impl_->recorded.load(std::memory_order_relaxed); }
uint64_t ExecAudit::lost() const { return impl_->lost.load(std::memory_order_relaxed); }

Result<uint32_t> pidNamespaceLevel(int pid) {
  auto status = fs::readFile("/proc/" + std::to_string(pid) + "/status");
  if (!status) return notFound("process " + std::to_string(pid) + " is gone");
  size_t at = status->find("\nNSpid:");
  if (at == std::string::npos) return 0u;  // a kernel before 4.1: one namespace is all it shows
  size_t end = status->find('\n', at + 1);
  std::string_view line = std::string_view(*status).substr(at + 7, end - at - 7);
  uint32_t fields = 0;
  for (size_t i = 0; i < line.size();) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    ++fields;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
  }
  return fields == 0 ? 0u : fields - 1;
}

}  // namespace km::audit
