// km::net::dns::Resolver — the per-sandbox allowlist resolver's logic, without I/O: feed it
// a query from the sandbox, an answer from upstream, or the passing of time; it says what
// to send where. Allowed names (HostPolicy) go to the configured upstreams; every other
// name gets NXDOMAIN, a query without a usable question FORMERR. The upstream query is built
// afresh from the question alone (nothing else the sandbox put in its query leaves). Answers
// are cached until their TTL runs out, within an entry and a byte budget (least recently
// used go first): a sandbox cannot grow its supervisor's memory through the cache. Each address an allowed answer carries is handed to `on_address`
// (the eBPF allow map) unless the rebinding guard withholds it; every query ends in one
// `on_log` entry with its decision. Not thread-safe: one owner drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/address.h"
#include "net/dns/message.h"
#include "net/host_rule.h"

namespace km::net::dns {

struct LogEntry {
  std::chrono::system_clock::time_point time;
  std::string client;     // as the I/O layer labelled it ("10.213.0.2:41234")
  std::string transport;  // udp | tcp
  std::string name;       // as asked (presentation form)
  std::string type;       // "A", "AAAA", …
  bool allowed = false;
  std::string reason;     // the rule that allowed it, or why not
  std::string rcode;      // what the client got ("NOERROR", "NXDOMAIN", …); "" = dropped
  bool cached = false;
  std::vector<std::string> addresses;  // A/AAAA addresses in the answer
  std::vector<std::string> withheld;   // addresses the guard kept out of the allow map, with why
};

class Resolver {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    HostPolicy policy;
    std::vector<Cidr> allowed_cidrs;  // guarded ranges a name may still resolve into
    size_t upstreams = 1;             // how many the I/O layer has (index 0..n-1)
    std::chrono::milliseconds timeout{1500};
    int attempts = 3;                 // sends per query, rotating through the upstreams
    uint32_t max_ttl = 86400;         // cache and allow-map entries live at most this long
    uint32_t max_negative_ttl = 300;  // NXDOMAIN/NODATA answers at most this long
    size_t max_cache = 10000;             // entries
    size_t max_cache_bytes = 8u << 20;    // their wire, offsets and addresses together
    size_t max_pending = 2048;
  };
  struct Client {
    uint64_t token = 0;   // the I/O layer's handle for where to answer
    bool tcp = false;
    std::string label;    // for the log
  };
  struct Reply {
    Client client;
    std::string bytes;
  };
  struct Forward {
    size_t upstream = 0;
    bool tcp = false;     // TCP clients are forwarded over TCP (no size limit)
    uint16_t id = 0;
    std::string bytes;
  };
  struct Output {
    std::vector<Reply> replies;
    std::vector<Forward> forwards;
  };

  std::function<void(const std::string& name, const IpAddress& address, uint32_t ttl)> on_address;
  std::function<void(const LogEntry&)> on_log;

  Resolver(Options options, uint64_t seed);

  Output query(std::span<const uint8_t> wire, const Client& client, Clock::time_point now);
  Output upstreamAnswer(std::span<const uint8_t> wire, Clock::time_point now);
  // Retries and SERVFAILs for upstream queries that timed out.
  Output tick(Clock::time_point now);
  std::optional<Clock::time_point> nextDeadline() const;

  size_t cacheSize() const { return cache_.size(); }
  size_t cacheBytes() const { return cache_bytes_; }
  size_t pendingCount() const { return pending_.size(); }

 private:
  struct Pending {
    Client client;
    Query query;
    std::string wire;      // the client's query, our id in place
    std::string rule;
    std::string key;
    int sent = 0;
    size_t upstream = 0;
    Clock::time_point deadline;
  };
  struct CacheEntry {
    std::string wire;                 // the upstream answer (id to be replaced)
    std::vector<size_t> ttl_offsets;
    Clock::time_point stored, expires;
    std::vector<std::pair<IpAddress, uint32_t>> addresses;  // reachable ones, with TTL
    Rcode rcode = Rcode::kNoError;
    size_t bytes = 0;                 // what it counts against max_cache_bytes
    std::list<std::string>::iterator use;  // its place in lru_
  };

  void log(LogEntry e);
  LogEntry entryFor(const Client& c, const Query& q) const;
  std::string answerFor(const Query& q, const Client& c, std::string wire) const;
  uint16_t newId();
  Forward forward(Pending& p, Clock::time_point now);
  void store(const std::string& key, std::string wire, const Answer& a, Clock::time_point now,
             std::vector<std::pair<IpAddress, uint32_t>> reachable);
  void evict(std::unordered_map<std::string, CacheEntry>::iterator it);

  Options options_;
  std::mt19937_64 rng_;
  std::unordered_map<uint16_t, Pending> pending_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::list<std::string> lru_;  // cache keys, most recently used first
  size_t cache_bytes_ = 0;
};

// The cache key of a question: canonical name, type and class.
std::string cacheKey(const Question& q);

}  // namespace km::net::dns
