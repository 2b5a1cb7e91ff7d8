/* Types shared by the eBPF programs (egress.bpf.c) and their loader (bpf.cc). C, fixed
 * layout; addresses and ports in network byte order unless said otherwise. */
#ifndef KM_NET_BPF_EGRESS_SHARED_H_
#define KM_NET_BPF_EGRESS_SHARED_H_

#include <linux/types.h>

/* Map sizes. Hash tables allocate their buckets up front and LRU maps all their entries, at
 * a cost of ~0.2 ms per 1000 entries on a small VM, paid by every sandbox start. */
#define KM_ALLOW_MAX 4096      /* allowed CIDRs (tries; nothing preallocated) */
#define KM_HOST_MAX 8192       /* live addresses the resolver handed out, per family */
#define KM_REDIRECT_MAX 8192   /* live connections sent to the transparent proxy (both) */

struct km_key4 {
  __u32 prefixlen;
  __u32 addr;
};

struct km_key6 {
  __u32 prefixlen;
  __u8 addr[16];
};

struct km_addr6 {
  __u8 addr[16];
};

struct km_allow {
  __u64 expires_ns; /* CLOCK_MONOTONIC; 0 = no expiry (an allowed CIDR) */
  __u32 flags;      /* KM_ALLOW_* */
  __u32 pad;
};

#define KM_ALLOW_L7 1 /* an address of a host the proxy must see (enforcement: both) */

/* Where a connection rewritten to the transparent proxy was going, keyed by the client
 * socket's cookie (km_orig); the proxy learns its peer's cookie from sock_diag. */
struct km_orig {
  __u8 addr[16]; /* IPv4 in the first 4 bytes when family is AF_INET */
  __u16 port;    /* host order */
  __u8 family;
  __u8 pad;
};

struct km_config {
  __u32 resolver4;  /* the host end of the sandbox's veth: resolver (and proxy) address */
  __u16 proxy_port; /* network order; 0 = none. With enforcement both: the transparent port */
  __u16 dns_port;   /* network order: DNS, sent to the resolver wherever it was going (net::kDnsPort) */
  __u16 explicit_port; /* network order; 0 = none. With enforcement both: the proxy's explicit port */
  __u16 pad;
};

enum km_verdict { KM_VERDICT_DENY = 0, KM_VERDICT_ALLOW = 1, KM_VERDICT_REDIRECT = 2 };

enum km_reason {
  KM_REASON_NOT_ALLOWED = 1, /* no allow-map entry for the address */
  KM_REASON_EXPIRED = 2,     /* the entry's DNS TTL ran out */
  KM_REASON_RESOLVED = 3,    /* allowed: the resolver handed out this address */
  KM_REASON_CIDR = 4,        /* allowed: an allowed CIDR */
  KM_REASON_DNS_REDIRECT = 5,/* DNS to another server sent to the sandbox's resolver */
  KM_REASON_RESOLVER = 6,    /* DNS to the sandbox's resolver */
  KM_REASON_HOST_PORT = 7,   /* the host end, on a port other than DNS/proxy */
  KM_REASON_DNS_V6 = 8,      /* DNS over IPv6: no resolver there */
  KM_REASON_PACKET = 9,      /* a packet of neither a TCP nor a UDP socket (ICMP, raw, …) */
  KM_REASON_L7 = 10,         /* sent to the transparent proxy (web ports; hosts the proxy must see) */
  KM_REASON_L7_V6 = 11,      /* the same over IPv6: no proxy there */
  KM_REASON_LOOPBACK_DEV = 12, /* a loopback address from a socket bound to another device */
};

/* Allowed connects are the common case and are logged without the ring buffer (whose
 * reservation takes a lock with interrupts masked): up to KM_LOG_SETS rings of slots in an
 * mmap-able array, one per CPU (CPUs beyond KM_LOG_SETS share: cpu % KM_LOG_SETS). A
 * writer claims index `head` with an atomic add, marks the slot's `seq` 0 (being written),
 * fills it and publishes `seq` = index + 1, both with exchanges. The supervisor reads from
 * `tail` (which it keeps here), seqlock-style: it takes a slot when `seq` is the index it
 * expects before and after copying it and `head` shows that no later writer has claimed the
 * slot; otherwise the record counts as lost, never as a torn record. Writers wake the reader
 * through the ring buffer when it falls half a ring behind. */
#define KM_LOG_SLOTS 512 /* per ring; a power of two */
#define KM_LOG_SETS 16   /* rings at most (memory: 32 KiB each) */

struct km_event {
  __u64 ts_ns; /* CLOCK_MONOTONIC */
  __u32 pid;
  __u8 family; /* AF_INET / AF_INET6 */
  __u8 proto;
  __u8 verdict;
  __u8 reason;
  __u16 port; /* host order */
  __u16 pad;  /* always 0; writers store 0 here to pull a slot's line in ahead of use */
  __u8 addr[16];
  char comm[16];
};

struct km_slot {
  struct km_event ev;
  __u64 seq; /* index + 1 once written; 0 while being written */
};

struct km_cpu_log {
  __u64 head; /* next index to write (written by the programs) */
  __u64 pad1[7];
  __u64 tail; /* next index to read (written by the supervisor), on a cache line of its own */
  __u64 pad2[7];
  struct km_slot slots[KM_LOG_SLOTS];
};

#endif
