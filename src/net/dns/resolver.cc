#include "net/dns/resolver.h"

#include <algorithm>

namespace km::net::dns {
namespace {

IpAddress toIp(const Answer::Address& a) {
  IpAddress ip;
  ip.v6 = a.v6;
  ip.bytes = a.bytes;
  return ip;
}

bool sameQuestion(const Question& a, const Question& b) {
  return a.type == b.type && a.klass == b.klass && canonicalName(a.name) == canonicalName(b.name);
}

}  // namespace

std::string cacheKey(const Question& q) {
  return canonicalName(q.name) + "/" + std::to_string(q.type) + "/" + std::to_string(q.klass);
}

Resolver::Resolver(Options options, uint64_t seed) : options_(std::move(options)), rng_(seed) {
  if (options_.attempts < 1) options_.attempts = 1;
}

void Resolver::log(LogEntry e) {
  e.time = std::chrono::system_clock::now();
  if (on_log) on_log(e);
}

LogEntry Resolver::entryFor(const Client& c, const Query& q) const {
  LogEntry e;
  e.client = c.label;
  e.transport = c.tcp ? "tcp" : "udp";
  e.name = q.question.name;
  e.type = typeName(q.question.type);
  return e;
}

// An upstream or cached answer made fit for this client: its id, and truncated when a UDP
// client cannot take its size.
std::string Resolver::answerFor(const Query& q, const Client& c, std::string wire) const {
  if (!c.tcp && wire.size() > q.udp_size) return truncated(q);
  setId(wire, q.header.id);
  return wire;
}

uint16_t Resolver::newId() {
  for (;;) {
    auto id = static_cast<uint16_t>(rng_());
    if (!pending_.count(id)) return id;
  }
}

Resolver::Forward Resolver::forward(Pending& p, Clock::time_point now) {
  Forward f;
  f.upstream = p.upstream;
  f.tcp = p.client.tcp;
  f.bytes = p.wire;
  ++p.sent;
  p.deadline = now + options_.timeout;
  return f;
}

Resolver::Output Resolver::query(std::span<const uint8_t> wire, const Client& client,
                                 Clock::time_point now) {
  Output out;
  Query q;
  if (auto err = parseQuery(wire, q)) {
    LogEntry e;
    e.client = client.label;
    e.transport = client.tcp ? "tcp" : "udp";
    e.reason = "malformed query: " + err->message;
    if (err->header_ok) {
      out.replies.push_back({client, buildError(*err)});
      e.rcode = rcodeName(err->rcode);
    }
    log(std::move(e));
    return out;
  }
  LogEntry e = entryFor(client, q);
  auto deny = [&](std::string reason, Rcode rcode) {
    e.reason = std::move(reason);
    e.rcode = rcodeName(rcode);
    out.replies.push_back({client, buildRefusal(q, rcode)});
    log(std::move(e));
    return std::move(out);
  };
  if (!q.hostname_chars) {
    return deny("the name has characters other than letters, digits, '-' and '_'", Rcode::kNxDomain);
  }
  if (q.question.klass != 1) return deny("only class IN is answered", Rcode::kRefused);
  HostPolicy::Decision d = options_.policy.check(q.question.name);
  if (!d.allowed) return deny("not in the allowlist", Rcode::kNxDomain);

  std::string key = cacheKey(q.question);
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (it->second.expires > now) {
      CacheEntry& c = it->second;
      lru_.splice(lru_.begin(), lru_, c.use);
      // Rounded up: a served TTL never outlives the cached one.
      auto elapsed = static_cast<uint32_t>(
          std::chrono::ceil<std::chrono::seconds>(now - c.stored).count());
      std::string answer = c.wire;
      ageTtls(answer, c.ttl_offsets, elapsed);
      for (const auto& [ip, ttl] : c.addresses) {
        uint32_t left = ttl > elapsed ? ttl - elapsed : 0;
        if (left > 0 && on_address) on_address(canonicalName(q.question.name), ip, left);
        e.addresses.push_back(ip.toString());
      }
      e.allowed = true;
      e.cached = true;
      e.reason = d.rule;
      e.rcode = rcodeName(c.rcode);
      out.replies.push_back({client, answerFor(q, client, std::move(answer))});
      log(std::move(e));
      return out;
    }
    evict(it);
  }
  if (options_.upstreams == 0) {
    e.allowed = true;
    return deny(d.rule + "; but no DNS upstream is configured (dns.upstream in the operator config)", Rcode::kServFail);
  }
  if (pending_.size() >= options_.max_pending) {
    e.allowed = true;
    return deny("too many queries waiting for upstream", Rcode::kServFail);
  }
  uint16_t id = newId();
  Pending p;
  p.client = client;
  p.query = q;
  // Only the question leaves (and an OPT record of km's own when the client had EDNS): other
  // sections, EDNS options and flags of the sandbox's query never reach the upstream.
  p.wire = buildQuery(id, q.question, q.edns);
  p.rule = d.rule;
  p.key = std::move(key);
  p.upstream = static_cast<size_t>(rng_() % options_.upstreams);  // > 0: checked above
  Forward f = forward(p, now);
  f.id = id;
  pending_.emplace(id, std::move(p));
  out.forwards.push_back(std::move(f));
  return out;
}

void Resolver::store(const std::string& key, std::string wire, const Answer& a,
                     Clock::time_point now, std::vector<std::pair<IpAddress, uint32_t>> reachable) {
  Rcode rc = a.header.rcode();
  if ((rc != Rcode::kNoError && rc != Rcode::kNxDomain) || a.header.truncated()) return;
  uint32_t ttl = std::min(a.cacheTtl(), options_.max_ttl);
  if (a.answers.empty()) ttl = std::min(ttl, options_.max_negative_ttl);
  if (ttl == 0) return;
  if (auto old = cache_.find(key); old != cache_.end()) evict(old);
  CacheEntry c;
  for (const auto* section : {&a.answers, &a.authority, &a.additional}) {
    for (const auto& r : *section) {
      if (r.type != static_cast<uint16_t>(Type::kOpt)) c.ttl_offsets.push_back(r.ttl_offset);
    }
  }
  // Roughly what the entry holds on the heap: its buffers, its key twice (map and list) and
  // the nodes around them.
  c.bytes = wire.size() + c.ttl_offsets.size() * sizeof(size_t) +
            reachable.size() * sizeof(std::pair<IpAddress, uint32_t>) + 2 * key.size() + 256;
  if (c.bytes > options_.max_cache_bytes) return;  // one answer alone would be over budget
  // Make room: the least recently used go first (an expired one is never used again, so it
  // reaches the end soon enough).
  while (!lru_.empty() && (cache_.size() >= options_.max_cache || cache_bytes_ + c.bytes > options_.max_cache_bytes)) {
    evict(cache_.find(lru_.back()));
  }
  c.wire = std::move(wire);
  c.stored = now;
  c.expires = now + std::chrono::seconds(ttl);
  c.addresses = std::move(reachable);
  c.rcode = rc;
  lru_.push_front(key);
  c.use = lru_.begin();
  cache_bytes_ += c.bytes;
  cache_.emplace(key, std::move(c));
}

void Resolver::evict(std::unordered_map<std::string, CacheEntry>::iterator it) {
  if (it == cache_.end()) return;
  cache_bytes_ -= it->second.bytes;
  lru_.erase(it->second.use);
  cache_.erase(it);
}

Resolver::Output Resolver::upstreamAnswer(std::span<const uint8_t> wire, Clock::time_point now) {
  Output out;
  if (wire.size() < kHeaderSize) return out;
  auto id = static_cast<uint16_t>((wire[0] << 8) | wire[1]);
  auto it = pending_.find(id);
  if (it == pending_.end()) return out;  // late, duplicate or forged: nobody waits for it
  auto a = parseAnswer(wire);
  // A broken answer, or one for another question, is ignored: the retry timer still runs.
  if (!a || !a->header.response() || !a->question || !sameQuestion(*a->question, it->second.query.question)) {
    return out;
  }
  Pending p = std::move(it->second);
  pending_.erase(it);
  LogEntry e = entryFor(p.client, p.query);
  e.allowed = true;
  e.reason = p.rule;
  e.rcode = rcodeName(a->header.rcode());
  std::string name = canonicalName(p.query.question.name);
  std::vector<std::pair<IpAddress, uint32_t>> reachable;
  for (const auto& addr : a->addresses()) {
    IpAddress ip = toIp(addr);
    e.addresses.push_back(ip.toString());
    if (!reachableByName(ip, options_.allowed_cidrs)) {
      e.withheld.push_back(ip.toString() + " (" + guardedRange(ip).value_or("guarded") + ")");
      continue;
    }
    reachable.emplace_back(ip, std::min(addr.ttl, options_.max_ttl));
  }
  if (e.withheld.empty() && on_address) {
    for (const auto& [ip, ttl] : reachable) {
      if (ttl > 0) on_address(name, ip, ttl);
    }
  }
  if (!e.withheld.empty()) {
    // DNS rebinding guard: an allowed name that points into loopback, private, link-local,
    // metadata or CGNAT space is answered as if it did not exist (and not cached).
    e.allowed = false;
    e.reason = "resolves to guarded addresses (allowed by " + p.rule + "; add the range to network.allowCIDRs to reach it)";
    e.rcode = rcodeName(Rcode::kNxDomain);
    out.replies.push_back({p.client, buildRefusal(p.query, Rcode::kNxDomain)});
    log(std::move(e));
    return out;
  }
  std::string answer(reinterpret_cast<const char*>(wire.data()), wire.size());
  store(p.key, answer, *a, now, std::move(reachable));
  out.replies.push_back({p.client, answerFor(p.query, p.client, std::move(answer))});
  log(std::move(e));
  return out;
}

Resolver::Output Resolver::tick(Clock::time_point now) {
  Output out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = it->second;
    if (p.deadline > now) {
      ++it;
      continue;
    }
    if (p.sent < options_.attempts) {
      p.upstream = (p.upstream + 1) % std::max<size_t>(options_.upstreams, 1);
      Forward f = forward(p, now);
      f.id = it->first;
      out.forwards.push_back(std::move(f));
      ++it;
      continue;
    }
    LogEntry e = entryFor(p.client, p.query);
    e.allowed = true;
    e.reason = p.rule + "; no upstream answered (" + std::to_string(p.sent) + " tries)";
    e.rcode = rcodeName(Rcode::kServFail);
    out.replies.push_back({p.client, buildRefusal(p.query, Rcode::kServFail)});
    log(std::move(e));
    it = pending_.erase(it);
  }
  return out;
}

std::optional<Resolver::Clock::time_point> Resolver::nextDeadline() const {
  std::optional<Clock::time_point> next;
  for (const auto& [id, p] : pending_) {
    if (!next || p.deadline < *next) next = p.deadline;
  }
  return next;
}

}  // namespace km::net::dns
