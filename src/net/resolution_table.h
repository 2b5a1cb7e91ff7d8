// km::net::ResolutionTable — which allowed name each address was resolved for, as the
// sandbox's resolver answered it: the resolver fills it, the network log names the
// destination of a connect with it, and the proxy will read it. Each entry lives as long as
// the DNS answer's TTL (raised to a floor, cut to a cap); when the table is full the entry
// that expires soonest (an expired one first) makes room, never the whole table.
// Thread-safe: one writer and any number of readers at once. Time is a parameter, so
// tests need no clock.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "net/address.h"

namespace km::net {

class ResolutionTable {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    size_t max_entries = 20000;
    // A connect often comes a little after the answer even when its TTL is 0 or a few
    // seconds (CDNs); answers stay named at least this long.
    uint32_t min_ttl_seconds = 60;
    uint32_t max_ttl_seconds = 86400;  // the resolver's cache cap
  };

  ResolutionTable() : ResolutionTable(Limits{}) {}
  explicit ResolutionTable(Limits limits);
  ResolutionTable(const ResolutionTable&) = delete;
  ResolutionTable& operator=(const ResolutionTable&) = delete;

  // `address` was resolved for the allowed `name` at `now`, with `ttl_seconds`. An entry
  // of the address is replaced (the newest answer names it) and lives at least as long as
  // it did before when the name is the same. Makes room by eviction when full.
  void record(const IpAddress& address, std::string_view name, uint32_t ttl_seconds, Clock::time_point now);

  // The name `address` was last resolved for, nullopt when none or when it expired by `now`.
  [[nodiscard]] std::optional<std::string> lookup(const IpAddress& address, Clock::time_point now) const;

  // Drops the entries expired by `now`; returns how many.
  size_t sweep(Clock::time_point now);

  size_t size() const;
  // Live entries dropped to make room since construction (expired ones not counted).
  uint64_t evictions() const;

 private:
  using Key = std::array<uint8_t, 17>;  // family byte, then the 16 address bytes
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Entry {
    std::string name;
    Clock::time_point expires;
  };
  static Key keyOf(const IpAddress& a);
  void evictOne(Clock::time_point now);  // mu_ held exclusively

  const Limits limits_;
  mutable std::shared_mutex mu_;
  // Both guarded by mu_; by_expiry orders the keys of `entries_` by their expiry.
  std::unordered_map<Key, Entry, KeyHash> entries_;
  std::set<std::pair<Clock::time_point, Key>> by_expiry_;
  uint64_t evictions_ = 0;  // guarded by mu_
};

}  // namespace km::net
