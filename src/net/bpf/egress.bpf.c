// km's egress gatekeeper: cgroup programs attached to a sandbox's v2 cgroup.
//   connect4/6   TCP and connected UDP: loopback passes; the DNS port (config map: net::kDnsPort)
//                anywhere goes to the sandbox's resolver instead; the resolver's own address only on it;
//                otherwise the destination must be in the allow map and not expired.
//   sendmsg4/6   unconnected UDP: the same rules per datagram.
//                With enforcement both, TCP connects to ports 80 and 443 of allowed addresses,
//                and to any port of hosts the proxy must see (flagged in the allow map), go to
//                the transparent proxy instead; the original destination is kept per socket
//                cookie (the proxy asks sock_diag for its peer's cookie).
//   egress skb   every packet leaving the sandbox: TCP and UDP sockets' packets pass (the
//                programs above already judged where those may go), as do loopback and
//                kernel-made TCP (resets, time-wait); ICMP, raw sockets and any other
//                protocol are dropped.
// Every decision outside loopback is reported on the ring buffer for the audit log.
// Built with clang -target bpf against the kernel's UAPI headers only (no vmlinux.h).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "net/bpf/egress_shared.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define SOCK_STREAM 1
#define SOCK_DGRAM 2

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, KM_ALLOW_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct km_key4);
  __type(value, struct km_allow);
} km_allow4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, KM_ALLOW_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct km_key6);
  __type(value, struct km_allow);
} km_allow6 SEC(".maps");

// Exact addresses the resolver handed out (a hash: one lookup, no trie walk); the tries
// above hold the allowed CIDRs.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KM_HOST_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct km_allow);
} km_host4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KM_HOST_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct km_addr6);
  __type(value, struct km_allow);
} km_host6 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct km_config);
} km_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KM_REDIRECT_MAX);
  __type(key, __u64);
  __type(value, struct km_orig);
} km_orig SEC(".maps");


struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 18);
} km_events SEC(".maps");

// Allowed connects, a ring per CPU (see egress_shared.h); max_entries is set at load to the
// number of possible CPUs, at most KM_LOG_SETS.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct km_cpu_log);
} km_allowlog SEC(".maps");

static __always_inline void fill(struct km_event* e, __u64 now, __u8 family, const void* addr,
                                 __u16 port_be, __u8 proto, __u8 verdict, __u8 reason) {
  e->ts_ns = now;
  e->pid = bpf_get_current_pid_tgid() >> 32;
  e->family = family;
  e->proto = proto;
  e->verdict = verdict;
  e->reason = reason;
  e->port = bpf_ntohs(port_be);
  e->pad = 0;
  __builtin_memset(e->addr, 0, sizeof(e->addr));
  if (family == AF_INET)
    __builtin_memcpy(e->addr, addr, 4);
  else
    __builtin_memcpy(e->addr, addr, 16);
  bpf_get_current_comm(e->comm, sizeof(e->comm));
}

// Refusals and redirects: the ring buffer, waking the supervisor at once.
static __always_inline void report(__u8 family, const void* addr, __u16 port_be, __u8 proto,
                                   __u8 verdict, __u8 reason) {
  struct km_event* e = bpf_ringbuf_reserve(&km_events, sizeof(*e), 0);
  if (!e) return;
  fill(e, bpf_ktime_get_ns(), family, addr, port_be, proto, verdict, reason);
  bpf_ringbuf_submit(e, 0);
}

// Allows: this CPU's slot ring, no lock and no wakeup until it is half full.
#define KM_LOG_WARM_AHEAD 4
static __always_inline void report_allow(__u64 now, __u8 family, const void* addr, __u16 port_be,
                                         __u8 proto, __u8 reason) {
  __u32 set = bpf_get_smp_processor_id() % KM_LOG_SETS;
  struct km_cpu_log* log = bpf_map_lookup_elem(&km_allowlog, &set);
  if (!log) {
    report(family, addr, port_be, proto, KM_VERDICT_ALLOW, reason);
    return;
  }
  // Claim an index, mark the slot being written, fill it, publish: the exchanges are full
  // barriers, so a reader that sees the final seq sees the whole record.
  __u64 idx = __sync_fetch_and_add(&log->head, 1);
  struct km_slot* slot = &log->slots[idx & (KM_LOG_SLOTS - 1)];
  __sync_lock_test_and_set(&slot->seq, 0);
  fill(&slot->ev, now, family, addr, port_be, proto, KM_VERDICT_ALLOW, reason);
  __sync_lock_test_and_set(&slot->seq, idx + 1);
  // Warm the line of the slot a few records ahead with a plain store of a field that is
  // always 0 (the reader ignores it, and the value does not change): its miss then resolves
  // in the background, instead of inside the locked exchange of the connect that claims it
  // (a line written 512 connects ago has long left this CPU's cache). ~0.1 µs less per run
  // in BPF statistics; by the wall clock within noise (docs/benchmarks.md).
  log->slots[(idx + KM_LOG_WARM_AHEAD) & (KM_LOG_SLOTS - 1)].ev.pad = 0;
  // Every quarter ring, see how far behind the reader is (its tail is a cache line another
  // CPU writes: not read on every connect).
  if ((idx & (KM_LOG_SLOTS / 4 - 1)) == 0 && idx - log->tail >= KM_LOG_SLOTS / 2) {
    __u8 wake = 0;
    bpf_ringbuf_output(&km_events, &wake, sizeof(wake), BPF_RB_FORCE_WAKEUP);
  }
}

// Points an IPv4 connect somewhere else: `mapped` says the socket is IPv6 and the address
// ::ffff:a.b.c.d (a constant at every call, so each program keeps only its own store).
static __always_inline void rewrite4(struct bpf_sock_addr* ctx, __u32 ip, int mapped) {
  if (mapped)
    ctx->user_ip6[3] = ip;
  else
    ctx->user_ip4 = ip;
}

// Sends a connection to the transparent proxy on the host end, remembering where it was
// going under the socket's cookie. `mapped`: the socket is IPv6 (address ::ffff:a.b.c.d).
static __always_inline void redirect4(struct bpf_sock_addr* ctx, struct km_config* cfg, __u32 ip,
                                      __u16 port_be, int mapped) {
  struct km_orig o = {};
  __builtin_memcpy(o.addr, &ip, 4);
  o.port = bpf_ntohs(port_be);
  o.family = AF_INET;
  __u64 cookie = bpf_get_socket_cookie(ctx);
  bpf_map_update_elem(&km_orig, &cookie, &o, BPF_ANY);
  rewrite4(ctx, cfg->resolver4, mapped);
  ctx->user_port = cfg->proxy_port;
  report(AF_INET, &ip, port_be, IPPROTO_TCP, KM_VERDICT_REDIRECT, KM_REASON_L7);
}

static __always_inline struct km_allow* lookup4(__u32 ip) {
  struct km_allow* a = bpf_map_lookup_elem(&km_host4, &ip);
  if (a) return a;
  struct km_key4 key = {.prefixlen = 32, .addr = ip};
  return bpf_map_lookup_elem(&km_allow4, &key);
}

static __always_inline struct km_allow* lookup6(const __u32* w) {
  struct km_addr6 addr;
  __builtin_memcpy(addr.addr, w, 16);
  struct km_allow* a = bpf_map_lookup_elem(&km_host6, &addr);
  if (a) return a;
  struct km_key6 key = {.prefixlen = 128};
  __builtin_memcpy(key.addr, w, 16);
  return bpf_map_lookup_elem(&km_allow6, &key);
}

// Loopback passes only where it stays on loopback: a socket bound to a network device
// (SO_BINDTODEVICE needs no privilege) would send 127.0.0.0/8 or ::1 out of that device,
// past every other check. 1 = the sandbox's own loopback.
#define KM_LOOPBACK_IFINDEX 1
static __always_inline int own_loopback(struct bpf_sock* sk) {
  if (!sk) return 1;
  return sk->bound_dev_if == 0 || sk->bound_dev_if == KM_LOOPBACK_IFINDEX;
}

// With enforcement both, every TCP connection to these goes through the transparent proxy
// (`port_be` in network order, as in bpf_sock_addr).
static __always_inline int web_port(__u16 port_be) {
  return port_be == bpf_htons(80) || port_be == bpf_htons(443);
}

// `now`: bpf_ktime_get_ns(), read once per decision (also the event's time).
static __always_inline int allowed(const struct km_allow* a, __u64 now) {
  if (!a) return 0;
  return a->expires_ns == 0 || a->expires_ns > now;
}

// The IPv4 policy, for IPv4 sockets and IPv4-mapped addresses on IPv6 ones alike; may
// rewrite the destination (DNS to the resolver, proxied hosts to the proxy). 1 = go on.
static __always_inline int check4(struct bpf_sock_addr* ctx, __u32 ip, __u8 proto, int mapped) {
  __u32 zero = 0;
  struct km_config* cfg = bpf_map_lookup_elem(&km_config, &zero);
  __u16 port = (__u16)ctx->user_port;
  if ((bpf_ntohl(ip) >> 24) == 127) {
    if (own_loopback(ctx->sk)) return 1;  // the sandbox's own loopback
    report(AF_INET, &ip, port, proto, KM_VERDICT_DENY, KM_REASON_LOOPBACK_DEV);
    return 0;
  }
  if (!cfg) return 0;
  if (port == cfg->dns_port) {
    // DNS to the resolver itself is logged by the resolver; only redirects are news here.
    if (ip != cfg->resolver4) {
      rewrite4(ctx, cfg->resolver4, mapped);
      report(AF_INET, &ip, port, proto, KM_VERDICT_REDIRECT, KM_REASON_DNS_REDIRECT);
    }
    return 1;
  }
  if (ip == cfg->resolver4) {
    if (cfg->proxy_port && (port == cfg->proxy_port || port == cfg->explicit_port) && proto == IPPROTO_TCP) return 1;
    report(AF_INET, &ip, port, proto, KM_VERDICT_DENY, KM_REASON_HOST_PORT);
    return 0;
  }
  struct km_allow* a = lookup4(ip);
  __u64 now = bpf_ktime_get_ns();
  if (allowed(a, now)) {
    if (cfg->proxy_port && proto == IPPROTO_TCP && (web_port(port) || (a->flags & KM_ALLOW_L7))) {
      redirect4(ctx, cfg, ip, port, mapped);
      return 1;
    }
    report_allow(now, AF_INET, &ip, port, proto, a->expires_ns ? KM_REASON_RESOLVED : KM_REASON_CIDR);
    return 1;
  }
  report(AF_INET, &ip, port, proto, KM_VERDICT_DENY, a ? KM_REASON_EXPIRED : KM_REASON_NOT_ALLOWED);
  return 0;
}

static __always_inline int check6(struct bpf_sock_addr* ctx, __u8 proto) {
  __u32 w[4];
  w[0] = ctx->user_ip6[0];
  w[1] = ctx->user_ip6[1];
  w[2] = ctx->user_ip6[2];
  w[3] = ctx->user_ip6[3];
  __u16 port = (__u16)ctx->user_port;
  // ::ffff:a.b.c.d on a dual-stack socket is IPv4 traffic: the IPv4 rules decide.
  if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) return check4(ctx, w[3], proto, 1);
  if (w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == bpf_htonl(1)) {  // ::1
    if (own_loopback(ctx->sk)) return 1;
    report(AF_INET6, w, port, proto, KM_VERDICT_DENY, KM_REASON_LOOPBACK_DEV);
    return 0;
  }
  __u32 zero = 0;
  struct km_config* cfg = bpf_map_lookup_elem(&km_config, &zero);
  if (!cfg) return 0;
  if (port == cfg->dns_port) {
    // No IPv6 path to the resolver: DNS over IPv6 elsewhere is refused, never leaked.
    report(AF_INET6, w, port, proto, KM_VERDICT_DENY, KM_REASON_DNS_V6);
    return 0;
  }
  struct km_allow* a = lookup6(w);
  __u64 now = bpf_ktime_get_ns();
  if (allowed(a, now)) {
    if (cfg->proxy_port && proto == IPPROTO_TCP && (web_port(port) || (a->flags & KM_ALLOW_L7))) {
      report(AF_INET6, w, port, proto, KM_VERDICT_DENY, KM_REASON_L7_V6);
      return 0;
    }
    report_allow(now, AF_INET6, w, port, proto, a->expires_ns ? KM_REASON_RESOLVED : KM_REASON_CIDR);
    return 1;
  }
  report(AF_INET6, w, port, proto, KM_VERDICT_DENY, a ? KM_REASON_EXPIRED : KM_REASON_NOT_ALLOWED);
  return 0;
}

SEC("cgroup/connect4")
int km_connect4(struct bpf_sock_addr* ctx) { return check4(ctx, ctx->user_ip4, (__u8)ctx->protocol, 0); }

SEC("cgroup/sendmsg4")
int km_sendmsg4(struct bpf_sock_addr* ctx) { return check4(ctx, ctx->user_ip4, IPPROTO_UDP, 0); }

SEC("cgroup/connect6")
int km_connect6(struct bpf_sock_addr* ctx) { return check6(ctx, (__u8)ctx->protocol); }

SEC("cgroup/sendmsg6")
int km_sendmsg6(struct bpf_sock_addr* ctx) { return check6(ctx, IPPROTO_UDP); }

struct ipv4_head {
  __u8 vihl, tos;
  __u16 len, id, frag;
  __u8 ttl, proto;
  __u16 csum;
  __u32 saddr, daddr;
};
struct ipv6_head {
  __u32 vtcfl;
  __u16 len;
  __u8 next, hops;
  __u32 saddr[4], daddr[4];
};

SEC("cgroup_skb/egress")
int km_egress(struct __sk_buff* skb) {
  // TCP and UDP sockets can only send where connect4/6 or sendmsg4/6 let them (the kernel
  // runs those checks on connect, on every addressed send, and on TCP Fast Open; MPTCP,
  // whose extra subflows would skip them, is off in the sandbox's namespace). So a packet
  // of such a socket passes without a look inside; everything else is judged here.
  struct bpf_sock* sk = skb->sk;
  struct bpf_sock* full = sk ? bpf_sk_fullsock(sk) : 0;
  // A socket bound to a device after its connect (the hooks above judged an unbound one) is
  // looked at below: its loopback destination would leave by that device.
  int judged = full && ((full->type == SOCK_STREAM && full->protocol == IPPROTO_TCP) ||
                         (full->type == SOCK_DGRAM && full->protocol == IPPROTO_UDP));
  if (judged && own_loopback(full)) return 1;
  __u8 family, proto;
  __u32 daddr[4] = {};
  if (skb->protocol == bpf_htons(ETH_P_IP)) {
    struct ipv4_head h;
    if (bpf_skb_load_bytes(skb, 0, &h, sizeof(h))) return 0;
    if ((bpf_ntohl(h.daddr) >> 24) == 127) return skb->ifindex == KM_LOOPBACK_IFINDEX;
    family = AF_INET;
    proto = h.proto;
    daddr[0] = h.daddr;
  } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
    struct ipv6_head h;
    if (bpf_skb_load_bytes(skb, 0, &h, sizeof(h))) return 0;
    if (h.daddr[0] == 0 && h.daddr[1] == 0 && h.daddr[2] == 0 && h.daddr[3] == bpf_htonl(1))
      return skb->ifindex == KM_LOOPBACK_IFINDEX;
    family = AF_INET6;
    proto = h.next;
    __builtin_memcpy(daddr, h.daddr, 16);
  } else {
    return 0;
  }
  if (judged) return 1;  // bound to a device, but not to loopback: the hooks judged it
  // No full socket: a time-wait or request socket, or a reset the kernel makes for a stray
  // segment — the kernel answering for a connection, not the agent speaking.
  if (!full && proto == IPPROTO_TCP) return 1;
  report(family, daddr, 0, proto, KM_VERDICT_DENY, KM_REASON_PACKET);
  return 0;
}
