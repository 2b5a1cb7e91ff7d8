#include "audit/exec_audit.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
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
#include <vector>

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

struct ExecAudit::Impl {
  km_exec* skel = nullptr;
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
    if (skel) km_exec__destroy(skel);  // detaches the links, frees the maps
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
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return 0;
    std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.km_exec_lost), &zero, per_cpu.data()) != 0) return 0;
    uint64_t sum = 0;
    for (uint64_t n : per_cpu) sum += n;
    return sum;
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

// FNV-1a, for naming a cache file (not for security: the file lives where only root writes).
uint64_t fnv1a(std::string_view data, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// The kernel's BTF cut down to the types the programs read (bpftool gen min_core_btf), made
// once per kernel and program and kept in /run/km: libbpf then relocates against 1 KB instead
// of parsing the kernel's 5 MB, which took most of each supervisor's load (~50 ms). "" when it
// cannot be made (no bpftool, no /run): the programs then load against the kernel's BTF.
std::string minimalBtf() {
  size_t size = 0;
  const void* elf = km_exec__elf_bytes(&size);
  std::string_view object(static_cast<const char*>(elf), size);
  auto release = fs::readFile("/proc/sys/kernel/osrelease", 256);
  auto version = fs::readFile("/proc/sys/kernel/version", 256);
  if (!release || !version) return "";
  char name[64];
  std::snprintf(name, sizeof name, "exec-audit-%016llx.btf",
                static_cast<unsigned long long>(fnv1a(object, fnv1a(*release + *version))));
  const std::string dir = "/run/km", path = dir + "/" + name;
  if (fs::exists(path)) return path;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return "";
  std::string bpftool = fs::exists("/usr/sbin/bpftool") ? "/usr/sbin/bpftool" : "/sbin/bpftool";
  if (!fs::exists(bpftool)) return "";
  // Private names for this process's attempt; the rename makes the file appear whole.
  std::string tmp = path + "." + std::to_string(::getpid());
  if (!sys::replaceFile(tmp + ".o", object, 0600)) return "";
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

}  // namespace

Result<std::unique_ptr<ExecAudit>> ExecAudit::load(uint32_t ns_level) {
  if (!fs::exists("/sys/kernel/btf/vmlinux")) {
    return unavailable("the kernel has no BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF): commands cannot be audited");
  }
  libbpf_set_print(nullptr);
  std::string btf = minimalBtf();
  auto attempt = [&](const char* btf_path) -> Result<std::unique_ptr<Impl>> {
    auto impl = std::make_unique<Impl>();
    LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_path);
    impl->skel = km_exec__open_opts(&opts);
    if (!impl->skel) return bpfError("opening the exec audit programs", errno);
    impl->skel->rodata->km_ns_level = ns_level;
    if (int rc = km_exec__load(impl->skel); rc) {
      return bpfError("loading the exec audit programs (a kernel with BTF and bpf_loop, 5.17 or later, is needed)", rc);
    }
    return impl;
  };
  auto impl = attempt(btf.empty() ? nullptr : btf.c_str());
  if (!impl && !btf.empty()) {
    ::unlink(btf.c_str());  // a cached file that does not fit this kernel: made again next time
    impl = attempt(nullptr);
  }
  if (!impl) return std::move(impl).error();
  return std::unique_ptr<ExecAudit>(new ExecAudit(std::move(*impl)));
}

Status ExecAudit::start(const std::string& cgroup_v2_dir, Writer& out) {
  Impl& m = *impl_;
  if (m.thread.joinable()) return internalError("the exec audit runs already");
  sys::UniqueFd cg(::open(cgroup_v2_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg.valid()) return sys::errnoError("open", cgroup_v2_dir, errno);
  uint32_t zero = 0;
  int cg_fd = cg.get();
  if (int rc = bpf_map_update_elem(bpf_map__fd(m.skel->maps.km_cgroup), &zero, &cg_fd, BPF_ANY); rc) {
    return bpfError("naming the sandbox's cgroup to the exec audit", errno);
  }
  m.ring = ring_buffer__new(bpf_map__fd(m.skel->maps.km_exec_ring), &Impl::onRecord, &m, nullptr);
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
  if (int rc = km_exec__attach(m.skel); rc) return bpfError("attaching the exec audit programs", rc);
  m.out = &out;
  m.stopping.store(false);
  m.thread = std::thread([&m] { m.run(); });
  return ok();
}

void ExecAudit::stop() {
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  m.stopping.store(true, std::memory_order_release);
  uint64_t one = 1;
  (void)!::write(m.wake.get(), &one, sizeof one);
  m.thread.join();
  km_exec__detach(m.skel);
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
