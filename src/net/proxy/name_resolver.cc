#include "net/proxy/name_resolver.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <random>

#include "net/dns/message.h"
#include "net/proxy/asio_address.h"
#include "net/host_rule.h"

namespace km::net::proxy {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// The resolver tries its upstreams three times, 1.5 s apart, then answers SERVFAIL.
constexpr auto kTimeout = std::chrono::milliseconds(5500);

uint16_t randomId() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<uint16_t>(rng());
}

}  // namespace

size_t NameResolver::cacheSize() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

asio::awaitable<Result<std::vector<IpAddress>>> NameResolver::resolve(std::string name) {
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(name);
    if (it != cache_.end()) {
      if (it->second.expires > Clock::now()) co_return it->second.addresses;
      cache_.erase(it);
    }
  }
  auto ex = co_await asio::this_coro::executor;
  auto sock = std::make_shared<udp::socket>(ex);
  boost::system::error_code ec;
  udp::endpoint to(toAsio(resolver_.ip), resolver_.port);
  sock->open(to.protocol(), ec);
  if (!ec) sock->connect(to, ec);
  if (ec) co_return unavailable("the sandbox's resolver at " + resolver_.toString() + ": " + ec.message());
  uint16_t id = randomId();
  dns::Question q;
  q.name = name;
  q.type = static_cast<uint16_t>(dns::Type::kA);
  std::string query = dns::buildQuery(id, q, /*edns=*/true);
  asio::steady_timer timer(ex);
  timer.expires_after(kTimeout);
  timer.async_wait([weak = std::weak_ptr<udp::socket>(sock)](boost::system::error_code e) {
    if (e) return;
    if (auto s = weak.lock()) s->cancel();
  });
  auto [send_ec, sent] = co_await sock->async_send(asio::buffer(query), kNoThrow);
  if (send_ec) co_return unavailable("asking the sandbox's resolver: " + send_ec.message());
  std::vector<uint8_t> answer(4096);
  for (;;) {
    auto [rec_ec, n] = co_await sock->async_receive(asio::buffer(answer), kNoThrow);
    if (rec_ec == asio::error::operation_aborted) co_return unavailable("the sandbox's resolver did not answer for " + name);
    if (rec_ec) co_return unavailable("reading the sandbox's resolver: " + rec_ec.message());
    auto parsed = dns::parseAnswer(std::span<const uint8_t>(answer.data(), n));
    if (!parsed || parsed->header.id != id || !parsed->question ||
        canonicalName(parsed->question->name) != name) {
      continue;  // not our answer: keep waiting
    }
    timer.cancel();
    if (parsed->header.rcode() == dns::Rcode::kNxDomain) {
      co_return notFound("the sandbox's resolver refused " + name + " (not allowed, or it resolves to a guarded address)");
    }
    if (parsed->header.rcode() != dns::Rcode::kNoError) {
      co_return unavailable("the sandbox's resolver answered " + dns::rcodeName(parsed->header.rcode()) + " for " + name);
    }
    std::vector<IpAddress> out;
    uint32_t ttl = kMaxCacheSeconds;
    for (const auto& a : parsed->addresses()) {
      if (a.v6) continue;
      IpAddress ip;
      std::copy(a.bytes.begin(), a.bytes.begin() + 4, ip.bytes.begin());
      out.push_back(ip);
      ttl = std::min(ttl, a.ttl);
    }
    if (out.empty()) co_return notFound(name + " has no IPv4 address");
    {
      std::lock_guard lock(mu_);
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();  // rare: many names in 5 minutes
      if (ttl > 0) cache_[name] = Entry{out, Clock::now() + std::chrono::seconds(ttl)};
    }
    co_return out;
  }
}

}  // namespace km::net::proxy
