#include "net/address.h"

#include <gtest/gtest.h>

namespace km::net {
namespace {

IpAddress ip(const char* s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(IpAddress{});
}

TEST(Address, ParseAndPrint) {
  EXPECT_EQ(ip("203.0.113.10").toString(), "203.0.113.10");
  EXPECT_FALSE(ip("203.0.113.10").v6);
  EXPECT_EQ(ip("2001:DB8::1").toString(), "2001:db8::1");
  EXPECT_TRUE(ip("::1").v6);
  EXPECT_FALSE(IpAddress::parse("300.1.1.1"));
  EXPECT_FALSE(IpAddress::parse("example.org"));
  EXPECT_FALSE(IpAddress::parse(""));
  EXPECT_FALSE(IpAddress::parse("[::1]"));
}

TEST(Address, CidrContains) {
  auto c = Cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->toString(), "10.0.0.0/8");
  EXPECT_TRUE(c->contains(ip("10.255.0.1")));
  EXPECT_FALSE(c->contains(ip("11.0.0.1")));
  EXPECT_FALSE(c->contains(ip("::ffff:10.0.0.1")));  // families differ; guards look inside
  auto odd = Cidr::parse("172.16.0.0/12");
  EXPECT_TRUE(odd->contains(ip("172.31.255.255")));
  EXPECT_FALSE(odd->contains(ip("172.32.0.0")));
  auto host = Cidr::parse("2001:db8::5");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->prefix, 128);
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("8.8.8.8")));
}

TEST(Address, CidrErrorsSayWhat) {
  auto bad = Cidr::parse("10.0.0.0/33");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("0..32"), std::string::npos);
  EXPECT_FALSE(Cidr::parse("10.0.0.0/x"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
  auto name = Cidr::parse("example.org/24");
  ASSERT_FALSE(name);
  EXPECT_NE(name.error().message().find("like 10.0.0.0/8"), std::string::npos);
}

TEST(Address, GuardedRanges) {
  EXPECT_EQ(guardedRange(ip("127.0.0.1")), "loopback");
  EXPECT_EQ(guardedRange(ip("10.9.8.7")), "private");
  EXPECT_EQ(guardedRange(ip("192.168.1.1")), "private");
  EXPECT_EQ(guardedRange(ip("172.20.0.1")), "private");
  EXPECT_EQ(guardedRange(ip("169.254.169.254")), "cloud metadata");
  EXPECT_EQ(guardedRange(ip("169.254.1.1")), "link-local");
  EXPECT_EQ(guardedRange(ip("100.64.0.1")), "CGNAT");
  EXPECT_EQ(guardedRange(ip("0.0.0.0")), "unspecified");
  EXPECT_EQ(guardedRange(ip("224.0.0.1")), "multicast");
  EXPECT_EQ(guardedRange(ip("::1")), "loopback");
  EXPECT_EQ(guardedRange(ip("fe80::1")), "link-local");
  EXPECT_EQ(guardedRange(ip("fd12::1")), "unique local");
  EXPECT_EQ(guardedRange(ip("fd00:ec2::254")), "cloud metadata");
  EXPECT_EQ(guardedRange(ip("192.88.99.1")), "reserved");
  EXPECT_EQ(guardedRange(ip("64:ff9b:1::a00:1")), "local-use NAT64");
  EXPECT_EQ(guardedRange(ip("2001:0:4136:e378:8000:63bf:3fff:fdd2")), "Teredo");
  EXPECT_FALSE(guardedRange(ip("2001:4860::8888")));  // a public 2001:… address, not Teredo
  EXPECT_FALSE(guardedRange(ip("203.0.113.10")));
  EXPECT_FALSE(guardedRange(ip("2001:db8::10")));
  EXPECT_FALSE(guardedRange(ip("1.1.1.1")));
}

TEST(Address, Ipv4InsideIpv6IsJudgedAsIpv4) {
  EXPECT_EQ(guardedRange(ip("::ffff:127.0.0.1")), "loopback (IPv4 inside IPv6)");
  EXPECT_EQ(guardedRange(ip("::ffff:169.254.169.254")), "cloud metadata (IPv4 inside IPv6)");
  EXPECT_EQ(guardedRange(ip("64:ff9b::10.0.0.1")), "private (IPv4 inside IPv6)");
  EXPECT_EQ(guardedRange(ip("2002:a00:1::")), "private (IPv4 inside IPv6)");  // 6to4 of 10.0.0.1
  EXPECT_EQ(guardedRange(ip("::10.0.0.1")), "private (IPv4 inside IPv6)");
  EXPECT_FALSE(guardedRange(ip("::ffff:203.0.113.1")));
}

TEST(Address, AllowedCidrsOpenGuardedRanges) {
  std::vector<Cidr> allow = {*Cidr::parse("10.20.0.0/16")};
  EXPECT_TRUE(reachableByName(ip("10.20.1.1"), allow));
  EXPECT_TRUE(reachableByName(ip("::ffff:10.20.1.1"), allow));
  EXPECT_FALSE(reachableByName(ip("10.21.1.1"), allow));
  EXPECT_TRUE(reachableByName(ip("203.0.113.5"), {}));
  EXPECT_FALSE(reachableByName(ip("127.0.0.1"), {}));
}

TEST(Address, Endpoints) {
  auto e = Endpoint::parse("192.0.2.53:5353", 53);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 5353);
  EXPECT_EQ(e->toString(), "192.0.2.53:5353");
  EXPECT_EQ(Endpoint::parse("192.0.2.53", 53)->port, 53);
  auto v6 = Endpoint::parse("[2001:db8::53]:53", 53);
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->ip.v6);
  EXPECT_EQ(v6->toString(), "[2001:db8::53]:53");
  EXPECT_EQ(Endpoint::parse("2001:db8::53", 53)->port, 53);  // bare v6: no port
  EXPECT_FALSE(Endpoint::parse("192.0.2.53:0", 53));
  EXPECT_FALSE(Endpoint::parse("192.0.2.53:99999", 53));
  EXPECT_FALSE(Endpoint::parse("[::1", 53));
  EXPECT_FALSE(Endpoint::parse("dns.example:53", 53));
}

}  // namespace
}  // namespace km::net
