#include "net/resolution_table.h"

#include <algorithm>
#include <mutex>

namespace km::net {

ResolutionTable::ResolutionTable(Limits limits) : limits_(limits) {}

ResolutionTable::Key ResolutionTable::keyOf(const IpAddress& a) {
  Key k{};
  k[0] = a.v6 ? 6 : 4;
  std::copy(a.bytes.begin(), a.bytes.end(), k.begin() + 1);
  return k;
}

size_t ResolutionTable::KeyHash::operator()(const Key& k) const noexcept {
  // FNV-1a: addresses are short and not chosen to collide by anyone who sees the hash.
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : k) h = (h ^ b) * 1099511628211ull;
  return static_cast<size_t>(h);
}

void ResolutionTable::record(const IpAddress& address, std::string_view name, uint32_t ttl_seconds,
                             Clock::time_point now) {
  uint32_t ttl = std::clamp(ttl_seconds, limits_.min_ttl_seconds, std::max(limits_.min_ttl_seconds, limits_.max_ttl_seconds));
  Clock::time_point expires = now + std::chrono::seconds(ttl);
  Key key = keyOf(address);
  std::unique_lock lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (e.name == name) expires = std::max(expires, e.expires);
    by_expiry_.erase({e.expires, key});
    e.name.assign(name);
    e.expires = expires;
    by_expiry_.insert({expires, key});
    return;
  }
  if (limits_.max_entries == 0) return;
  while (entries_.size() >= limits_.max_entries) evictOne(now);
  entries_.emplace(key, Entry{std::string(name), expires});
  by_expiry_.insert({expires, key});
}

void ResolutionTable::evictOne(Clock::time_point now) {
  // The soonest to expire is the least useful: an expired entry names nothing any more,
  // and among live ones it is the one a connect is least likely still to need.
  auto first = by_expiry_.begin();
  if (first->first > now) ++evictions_;
  entries_.erase(first->second);
  by_expiry_.erase(first);
}

std::optional<std::string> ResolutionTable::lookup(const IpAddress& address, Clock::time_point now) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(keyOf(address));
  if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
  return it->second.name;
}

size_t ResolutionTable::sweep(Clock::time_point now) {
  std::unique_lock lock(mu_);
  size_t n = 0;
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    entries_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
    ++n;
  }
  return n;
}

size_t ResolutionTable::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

uint64_t ResolutionTable::evictions() const {
  std::shared_lock lock(mu_);
  return evictions_;
}

}  // namespace km::net
