#include "net/bpf/gate.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include <linux/magic.h>

#include "core/log.h"
#include "core/sys.h"
#include "core/warning_pacer.h"
#include "net/bpf/egress_shared.h"
#include "net/bpf/km_gate.skel.h"
#include "net/net.h"
#include "net/netlink_io.h"

namespace km::net {
namespace {

constexpr const char* kBpffs = "/sys/fs/bpf";
constexpr const char* kMaps[] = {"allow4", "allow6", "host4", "host6", "config", "events", "orig", "allowlog"};
// Pins an older km made, removed with the others.
constexpr const char* kOldMaps[] = {"portcookie"};
constexpr size_t kMapCount = sizeof(kMaps) / sizeof(kMaps[0]);

Error bpfError(std::string_view what, int err) {
  if (err < 0) err = -err;
  return sys::errnoError(what, "eBPF", err);
}

std::string reasonText(uint8_t reason) {
  switch (reason) {
    case KM_REASON_NOT_ALLOWED: return "address not handed out by the resolver nor in an allowed CIDR";
    case KM_REASON_EXPIRED: return "the DNS TTL for this address ran out";
    case KM_REASON_RESOLVED: return "address of an allowed name";
    case KM_REASON_CIDR: return "allowed CIDR";
    case KM_REASON_DNS_REDIRECT: return "DNS sent to the sandbox's resolver instead";
    case KM_REASON_RESOLVER: return "the sandbox's resolver";
    case KM_REASON_HOST_PORT: return "the host end only serves DNS (and the proxy)";
    case KM_REASON_DNS_V6: return "DNS over IPv6 is not served";
    case KM_REASON_PACKET: return "neither TCP nor UDP (ICMP, raw sockets, other protocols)";
    case KM_REASON_L7: return "sent to the transparent proxy (web ports, and hosts it must see)";
    case KM_REASON_L7_V6: return "web ports or a host the proxy must see, over IPv6 (no proxy there)";
    case KM_REASON_LOOPBACK_DEV: return "a loopback address from a socket bound to a network device (it would leave by it)";
  }
  return "reason " + std::to_string(reason);
}

}  // namespace

uint64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

GateEvent toGateEvent(const km_event& e) {
  GateEvent g;
  g.monotonic_ns = e.ts_ns;
  g.pid = e.pid;
  g.comm.assign(e.comm, strnlen(e.comm, sizeof e.comm));
  g.address.v6 = e.family == 10;
  std::memcpy(g.address.bytes.data(), e.addr, g.address.v6 ? 16 : 4);
  g.port = e.port;
  g.protocol = ipProtocolName(e.proto);
  g.verdict = e.verdict == KM_VERDICT_ALLOW ? "allow" : e.verdict == KM_VERDICT_REDIRECT ? "redirect" : "deny";
  g.reason = reasonText(e.reason);
  return g;
}

struct EgressGate::Impl {
  sys::UniqueFd allow4, allow6, host4, host6, config, events, orig, allowlog;
  ring_buffer* ring = nullptr;
  std::vector<km_event>* batch = nullptr;  // where onEvent puts records during a drain
  // The per-CPU logs of allowed connects, mapped (see egress_shared.h).
  char* logs = nullptr;
  size_t logs_len = 0, log_stride = 0;
  uint32_t log_cpus = 0;
  uint64_t lost = 0, lost_total = 0;
  WarningPacer lost_warnings;  // lost records between warnings
  ~Impl() {
    if (ring) ring_buffer__free(ring);
    if (logs) ::munmap(logs, logs_len);
  }
  static int onEvent(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    if (size < sizeof(km_event) || !self->batch) return 0;  // a wake-up record
    km_event e;
    std::memcpy(&e, data, sizeof e);
    self->batch->push_back(e);
    return 0;
  }
  Status openRing() {
    ring = ring_buffer__new(events.get(), &Impl::onEvent, this, nullptr);
    if (!ring) return bpfError("ring_buffer__new", errno);
    return ok();
  }
  Status mapLogs() {
    if (!allowlog.valid()) return ok();  // pinned by a km before the per-CPU logs
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (int rc = bpf_obj_get_info_by_fd(allowlog.get(), &info, &len); rc) return bpfError("reading the allow log's size", rc);
    if (info.value_size != sizeof(km_cpu_log)) {
      return internalError("the pinned allow log has another layout (made by a different km version)");
    }
    log_stride = (info.value_size + 7) & ~size_t{7};
    log_cpus = info.max_entries;
    size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    logs_len = (log_stride * log_cpus + page - 1) / page * page;
    void* p = ::mmap(nullptr, logs_len, PROT_READ | PROT_WRITE, MAP_SHARED, allowlog.get(), 0);
    if (p == MAP_FAILED) return sys::errnoError("mmap", "the eBPF allow log", errno);
    logs = static_cast<char*>(p);
    return ok();
  }
  // Copies every complete record from the CPUs' logs into `out`; counts overwritten ones.
  void readLogs(std::vector<km_event>& out) {
    for (uint32_t cpu = 0; cpu < log_cpus; ++cpu) {
      auto* log = reinterpret_cast<km_cpu_log*>(logs + cpu * log_stride);
      std::atomic_ref<__u64> head_ref(log->head), tail_ref(log->tail);
      uint64_t head = head_ref.load(std::memory_order_acquire);
      uint64_t tail = tail_ref.load(std::memory_order_relaxed);
      if (head - tail > KM_LOG_SLOTS) {
        lost += head - tail - KM_LOG_SLOTS;
        tail = head - KM_LOG_SLOTS;
      }
      for (; tail < head; ++tail) {
        km_slot& slot = log->slots[tail & (KM_LOG_SLOTS - 1)];
        std::atomic_ref<__u64> seq(slot.seq);
        uint64_t before = seq.load(std::memory_order_acquire);
        if (before < tail + 1) break;  // claimed, still being written (0): the next drain
        if (before != tail + 1) {  // already overwritten by a later record
          ++lost;
          continue;
        }
        km_event e;
        std::memcpy(&e, &slot.ev, sizeof e);
        std::atomic_thread_fence(std::memory_order_acquire);
        // Still our record (a writer of any lap marks the slot 0 before touching it), and no
        // later writer has claimed the slot since (head counts claims, written or not).
        if (seq.load(std::memory_order_relaxed) != tail + 1 ||
            head_ref.load(std::memory_order_relaxed) - tail > KM_LOG_SLOTS) {
          ++lost;
          continue;
        }
        out.push_back(e);
      }
      tail_ref.store(tail, std::memory_order_release);
    }
  }
};

EgressGate::EgressGate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EgressGate::EgressGate(EgressGate&&) noexcept = default;
EgressGate& EgressGate::operator=(EgressGate&&) noexcept = default;
EgressGate::~EgressGate() = default;

Result<std::string> EgressGate::bpffsDir() {
  struct statfs fs {};
  if (::statfs(kBpffs, &fs) != 0 || fs.f_type != BPF_FS_MAGIC) {
    if (::mount("bpf", kBpffs, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0) {
      return sys::errnoError("mount bpffs at", kBpffs, errno);
    }
  }
  std::string dir = std::string(kBpffs) + "/km";
  KM_TRY(sys::makeDirs(dir, 0700));
  return dir;
}

std::string EgressGate::pinDir(std::string_view home_tag, std::string_view id) {
  return std::string(kBpffs) + "/km/" + std::string(home_tag) + "-" + std::string(id);
}

Result<EgressGate> EgressGate::attach(const std::string& cgroup_dir, const std::string& pin_dir,
                                      const IpAddress& resolver, uint16_t proxy_port) {
  if (resolver.v6) return invalidArgument("the resolver address must be IPv4");
  auto cg = sys::open(cgroup_dir, O_RDONLY | O_DIRECTORY);
  if (!cg) return std::move(cg).error();
  KM_TRY(sys::makeDirs(pin_dir, 0700));
  // Whatever fails from here on leaves no pin directory behind.
  struct PinsGuard {
    const std::string& dir;
    bool keep = false;
    ~PinsGuard() {
      if (!keep) (void)EgressGate::removePins(dir);
    }
  } pins_guard{pin_dir};
  libbpf_set_print(nullptr);
  km_gate* skel = km_gate__open();
  if (!skel) return bpfError("opening the egress programs", errno);
  struct Closer {
    km_gate* s;
    ~Closer() { km_gate__destroy(s); }
  } closer{skel};
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return bpfError("counting the possible CPUs", cpus);
  (void)bpf_map__set_max_entries(skel->maps.km_allowlog, static_cast<uint32_t>(std::min(cpus, KM_LOG_SETS)));
  if (proxy_port == 0) {
    // Only `both` redirects connections; without it the redirect map stays unused.
    (void)bpf_map__set_max_entries(skel->maps.km_orig, 1);
  }
  if (int rc = km_gate__load(skel); rc) return bpfError("loading the egress programs", -rc);

  km_config cfg{};
  std::memcpy(&cfg.resolver4, resolver.bytes.data(), 4);
  cfg.proxy_port = htons(proxy_port);
  cfg.explicit_port = proxy_port ? htons(kProxyPort) : 0;  // clients that use HTTP_PROXY
  cfg.dns_port = htons(kDnsPort);
  uint32_t zero = 0;
  if (int rc = bpf_map_update_elem(bpf_map__fd(skel->maps.km_config), &zero, &cfg, BPF_ANY); rc) {
    return bpfError("writing the config map", rc);
  }
  bpf_map* maps[] = {skel->maps.km_allow4, skel->maps.km_allow6, skel->maps.km_host4,
                     skel->maps.km_host6,  skel->maps.km_config, skel->maps.km_events,
                     skel->maps.km_orig,   skel->maps.km_allowlog};
  static_assert(sizeof maps / sizeof maps[0] == kMapCount);
  for (size_t i = 0; i < kMapCount; ++i) {
    std::string path = pin_dir + "/" + kMaps[i];
    ::unlink(path.c_str());
    if (int rc = bpf_obj_pin(bpf_map__fd(maps[i]), path.c_str()); rc) {
      return bpfError("pinning " + path, rc);
    }
  }
  struct {
    bpf_program* prog;
    bpf_attach_type type;
  } progs[] = {
      {skel->progs.km_connect4, BPF_CGROUP_INET4_CONNECT},
      {skel->progs.km_connect6, BPF_CGROUP_INET6_CONNECT},
      {skel->progs.km_sendmsg4, BPF_CGROUP_UDP4_SENDMSG},
      {skel->progs.km_sendmsg6, BPF_CGROUP_UDP6_SENDMSG},
      {skel->progs.km_egress, BPF_CGROUP_INET_EGRESS},
  };
  for (auto& p : progs) {
    if (int rc = bpf_prog_attach(bpf_program__fd(p.prog), cg->get(), p.type, BPF_F_ALLOW_MULTI); rc) {
      int err = errno;
      for (auto& q : progs) {
        if (&q == &p) break;
        (void)bpf_prog_detach2(bpf_program__fd(q.prog), cg->get(), q.type);
      }
      return bpfError("attaching " + std::string(bpf_program__name(p.prog)) + " to " + cgroup_dir, err);
    }
  }
  auto gate = open(pin_dir);
  pins_guard.keep = gate.has_value();
  return gate;
}

Result<EgressGate> EgressGate::open(const std::string& pin_dir) {
  auto impl = std::make_unique<Impl>();
  sys::UniqueFd* fds[] = {&impl->allow4, &impl->allow6, &impl->host4, &impl->host6,
                          &impl->config, &impl->events, &impl->orig,  &impl->allowlog};
  static_assert(sizeof fds / sizeof fds[0] == kMapCount);
  for (size_t i = 0; i < kMapCount; ++i) {
    std::string path = pin_dir + "/" + kMaps[i];
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0 && errno == ENOENT && fds[i] == &impl->allowlog) continue;  // pinned by an older km
    if (fd < 0) return bpfError("opening pinned map " + path, errno);
    fds[i]->reset(fd);
  }
  KM_TRY(impl->openRing());
  KM_TRY(impl->mapLogs());
  return EgressGate(std::move(impl));
}

Status EgressGate::removePins(const std::string& pin_dir) {
  for (const char* m : kMaps) ::unlink((pin_dir + "/" + m).c_str());
  for (const char* m : kOldMaps) ::unlink((pin_dir + "/" + m).c_str());
  if (::rmdir(pin_dir.c_str()) != 0 && errno != ENOENT) return sys::errnoError("rmdir", pin_dir, errno);
  return ok();
}

Status EgressGate::allow(const IpAddress& address, uint32_t ttl_seconds, bool via_proxy) {
  km_allow value{};
  value.expires_ns = ttl_seconds ? monotonicNs() + uint64_t{ttl_seconds} * 1000000000ULL : 0;
  value.flags = via_proxy ? KM_ALLOW_L7 : 0;
  auto update = [&] {
    if (address.v6) {
      km_addr6 key{};
      std::memcpy(key.addr, address.bytes.data(), 16);
      return bpf_map_update_elem(impl_->host6.get(), &key, &value, BPF_ANY);
    }
    uint32_t key = 0;
    std::memcpy(&key, address.bytes.data(), 4);
    return bpf_map_update_elem(impl_->host4.get(), &key, &value, BPF_ANY);
  };
  int rc = update();
  if (rc && errno == E2BIG) {
    // Full: drop every expired address now (normally they stay a while, so a late connect
    // is logged as "expired" rather than "never resolved"), then try again.
    sweep(0);
    rc = update();
  }
  if (rc) {
    return bpfError("allowing " + address.toString() + (errno == E2BIG ? " (the address map is full of live entries)" : ""), errno);
  }
  return ok();
}

Status EgressGate::allowCidr(const Cidr& cidr) {
  km_allow value{};
  int rc;
  if (cidr.base.v6) {
    km_key6 key{};
    key.prefixlen = static_cast<uint32_t>(cidr.prefix);
    std::memcpy(key.addr, cidr.base.bytes.data(), 16);
    rc = bpf_map_update_elem(impl_->allow6.get(), &key, &value, BPF_ANY);
  } else {
    km_key4 key{};
    key.prefixlen = static_cast<uint32_t>(cidr.prefix);
    std::memcpy(&key.addr, cidr.base.bytes.data(), 4);
    rc = bpf_map_update_elem(impl_->allow4.get(), &key, &value, BPF_ANY);
  }
  if (rc) return bpfError("allowing " + cidr.toString(), errno);
  return ok();
}

size_t EgressGate::sweep(uint32_t grace_seconds) {
  uint64_t limit = monotonicNs();
  uint64_t grace = uint64_t{grace_seconds} * 1000000000ULL;
  limit = limit > grace ? limit - grace : 0;
  size_t removed = 0;
  auto sweepMap = [&](int fd, auto key) {
    std::vector<decltype(key)> dead;
    decltype(key) cur{}, next{};
    bool first = true;
    while (bpf_map_get_next_key(fd, first ? nullptr : &cur, &next) == 0) {
      first = false;
      km_allow v{};
      if (bpf_map_lookup_elem(fd, &next, &v) == 0 && v.expires_ns != 0 && v.expires_ns < limit) {
        dead.push_back(next);
      }
      cur = next;
    }
    for (auto& k : dead) {
      if (bpf_map_delete_elem(fd, &k) == 0) ++removed;
    }
  };
  sweepMap(impl_->host4.get(), uint32_t{});
  sweepMap(impl_->host6.get(), km_addr6{});
  return removed;
}

std::optional<Endpoint> EgressGate::originalDestination(uint64_t cookie) const {
  km_orig o{};
  if (bpf_map_lookup_elem(impl_->orig.get(), &cookie, &o) != 0) return std::nullopt;
  Endpoint e;
  e.ip.v6 = o.family == 10;
  std::memcpy(e.ip.bytes.data(), o.addr, e.ip.v6 ? 16 : 4);
  e.port = o.port;
  return e;
}

int EgressGate::eventsFd() const { return ring_buffer__epoll_fd(impl_->ring); }

int EgressGate::drain(const std::function<void(const GateEvent&)>& fn) {
  std::vector<km_event> batch;
  impl_->batch = &batch;
  (void)ring_buffer__consume(impl_->ring);
  impl_->batch = nullptr;
  if (impl_->logs) impl_->readLogs(batch);
  // Two sources (refusals from the ring buffer, allows from the CPUs' logs): in time order.
  std::stable_sort(batch.begin(), batch.end(), [](const km_event& a, const km_event& b) { return a.ts_ns < b.ts_ns; });
  for (const km_event& e : batch) fn(toGateEvent(e));
  if (impl_->lost) {
    // A sandbox that connects fast enough loses records at every drain: paced warnings.
    if (impl_->lost_warnings.due(WarningPacer::Clock::now(), impl_->lost)) {
      log::warn("net", std::to_string(impl_->lost_warnings.take()) +
                           " allowed connects were not logged since the last such warning: they came faster than the "
                           "supervisor read them (" + std::to_string(KM_LOG_SLOTS) + " per CPU between reads)");
    }
    impl_->lost_total += impl_->lost;
    impl_->lost = 0;
  }
  return static_cast<int>(batch.size());
}

uint64_t EgressGate::lostAllowEvents() const { return impl_->lost_total + impl_->lost; }

}  // namespace km::net
