// ResolutionTable: names by address, expiring with the answer's TTL (within floor and cap),
// bounded by evicting the soonest-expiring entry, safe with readers beside the writer.
#include "net/resolution_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace km::net {
namespace {

using std::chrono::seconds;
using Clock = ResolutionTable::Clock;

const Clock::time_point kT0{seconds(1000)};

IpAddress v4(int last) { return IpAddress::v4(203, 0, 113, static_cast<uint8_t>(last)); }

TEST(ResolutionTableTest, NamesAnAddressItWasResolvedForAndNothingElse) {
  ResolutionTable t;
  t.record(v4(10), "api.example.com", 300, kT0);
  t.record(*IpAddress::parse("2001:db8::10"), "v6.example.com", 300, kT0);
  EXPECT_EQ(t.lookup(v4(10), kT0), "api.example.com");
  EXPECT_EQ(t.lookup(*IpAddress::parse("2001:db8::10"), kT0), "v6.example.com");
  EXPECT_EQ(t.lookup(v4(11), kT0), std::nullopt);
  // The same bytes as IPv6 are another address.
  IpAddress same_bytes_v6 = v4(10);
  same_bytes_v6.v6 = true;
  EXPECT_EQ(t.lookup(same_bytes_v6, kT0), std::nullopt);
  EXPECT_EQ(t.size(), 2u);
}

TEST(ResolutionTableTest, AnEntryExpiresWithItsTtlRaisedToTheFloorAndCutToTheCap) {
  ResolutionTable t({.max_entries = 10, .min_ttl_seconds = 60, .max_ttl_seconds = 3600});
  t.record(v4(1), "long.example", 300, kT0);
  t.record(v4(2), "zero.example", 0, kT0);
  t.record(v4(3), "huge.example", 999999, kT0);
  EXPECT_EQ(t.lookup(v4(1), kT0 + seconds(299)), "long.example");
  EXPECT_EQ(t.lookup(v4(1), kT0 + seconds(300)), std::nullopt);
  EXPECT_EQ(t.lookup(v4(2), kT0 + seconds(59)), "zero.example");
  EXPECT_EQ(t.lookup(v4(2), kT0 + seconds(60)), std::nullopt);
  EXPECT_EQ(t.lookup(v4(3), kT0 + seconds(3599)), "huge.example");
  EXPECT_EQ(t.lookup(v4(3), kT0 + seconds(3600)), std::nullopt);
  // Expired entries stay until swept (or evicted).
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.sweep(kT0 + seconds(300)), 2u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.sweep(kT0 + seconds(3600)), 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ResolutionTableTest, ARefreshExtendsTheEntryAndANewNameReplacesTheOld) {
  ResolutionTable t({.max_entries = 10, .min_ttl_seconds = 1, .max_ttl_seconds = 3600});
  t.record(v4(1), "a.example", 100, kT0);
  t.record(v4(1), "a.example", 100, kT0 + seconds(90));  // answered again
  EXPECT_EQ(t.lookup(v4(1), kT0 + seconds(150)), "a.example");
  EXPECT_EQ(t.lookup(v4(1), kT0 + seconds(190)), std::nullopt);
  // A shorter answer for the same name does not cut the entry short.
  t.record(v4(2), "b.example", 500, kT0);
  t.record(v4(2), "b.example", 10, kT0 + seconds(1));
  EXPECT_EQ(t.lookup(v4(2), kT0 + seconds(400)), "b.example");
  // Another name resolving to the address (a shared CDN address) names it from then on.
  t.record(v4(2), "c.example", 10, kT0 + seconds(2));
  EXPECT_EQ(t.lookup(v4(2), kT0 + seconds(3)), "c.example");
  EXPECT_EQ(t.lookup(v4(2), kT0 + seconds(12)), std::nullopt);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.sweep(kT0 + seconds(12)), 1u);  // the replaced expiry is not left behind
  EXPECT_EQ(t.size(), 1u);
}

TEST(ResolutionTableTest, AtItsBoundTheSoonestExpiringEntryMakesRoomNotTheWholeTable) {
  ResolutionTable t({.max_entries = 3, .min_ttl_seconds = 1, .max_ttl_seconds = 3600});
  t.record(v4(1), "one.example", 1000, kT0);
  t.record(v4(2), "two.example", 100, kT0);
  t.record(v4(3), "three.example", 2000, kT0);
  t.record(v4(4), "four.example", 500, kT0);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.lookup(v4(2), kT0), std::nullopt);
  EXPECT_EQ(t.lookup(v4(1), kT0), "one.example");
  EXPECT_EQ(t.lookup(v4(3), kT0), "three.example");
  EXPECT_EQ(t.lookup(v4(4), kT0), "four.example");
  EXPECT_EQ(t.evictions(), 1u);
  // An expired entry goes first, and is not counted as an eviction.
  t.record(v4(5), "five.example", 3000, kT0 + seconds(600));
  EXPECT_EQ(t.lookup(v4(4), kT0 + seconds(600)), std::nullopt);
  EXPECT_EQ(t.lookup(v4(1), kT0 + seconds(600)), "one.example");
  EXPECT_EQ(t.lookup(v4(5), kT0 + seconds(600)), "five.example");
  EXPECT_EQ(t.evictions(), 1u);
  // Refreshing a present address needs no room.
  t.record(v4(1), "one.example", 3000, kT0 + seconds(600));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_EQ(t.lookup(v4(3), kT0 + seconds(600)), "three.example");
}

TEST(ResolutionTableTest, ManyEntriesStayBoundedAndTheNewestAreKept) {
  ResolutionTable t({.max_entries = 100, .min_ttl_seconds = 60, .max_ttl_seconds = 3600});
  for (int i = 0; i < 1000; ++i) {
    IpAddress a = IpAddress::v4(10, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i & 0xff), 1);
    t.record(a, "n" + std::to_string(i) + ".example", 300, kT0 + seconds(i));
    ASSERT_LE(t.size(), 100u);
  }
  for (int i = 900; i < 1000; ++i) {
    IpAddress a = IpAddress::v4(10, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i & 0xff), 1);
    EXPECT_EQ(t.lookup(a, kT0 + seconds(1000)), "n" + std::to_string(i) + ".example");
  }
}

TEST(ResolutionTableTest, ReadersSeeWholeEntriesWhileTheWriterFillsAndEvicts) {
  ResolutionTable t({.max_entries = 64, .min_ttl_seconds = 60, .max_ttl_seconds = 3600});
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      for (int round = 0; !done.load() || round < 20; ++round) {
        for (int i = 0; i < 256; ++i) {
          auto name = t.lookup(v4(i), kT0);
          // A name is always the whole one written for that address.
          if (name && *name != "host-" + std::to_string(i) + ".example") bad.fetch_add(1);
        }
        if (t.size() > 64) bad.fetch_add(1);
      }
    });
  }
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 256; ++i) t.record(v4(i), "host-" + std::to_string(i) + ".example", 120 + round, kT0);
    t.sweep(kT0);
  }
  done.store(true);
  for (auto& th : readers) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(t.size(), 64u);
}

}  // namespace
}  // namespace km::net
