// Tunnels: both directions copied between two sockets in the kernel (splice through a pipe
// per direction), after what the proxy already read from either side has been written. A
// direction that reaches end-of-file half-closes the other side; the tunnel ends when both
// have, or when nothing moved for the idle timeout. relayTls: the same through TLS on both
// sides (copied in user space).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>

#include "core/sys.h"
#include "net/proxy/session.h"

namespace km::net::proxy {
namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using SteadyClock = std::chrono::steady_clock;
constexpr size_t kSpliceChunk = 1 << 16;

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return r >= 0; }
};

// One direction. Returns when `from` reaches end-of-file (then `to` is shut for writing) or
// either side fails.
asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, uint64_t& bytes, SteadyClock::time_point& last) {
  Pipe pipe;
  if (!pipe.ok()) co_return;
  const int in = from.native_handle(), out = to.native_handle();
  for (;;) {
    ssize_t n = ::splice(in, nullptr, pipe.w, nullptr, kSpliceChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) {
      boost::system::error_code ignore;
      to.shutdown(tcp::socket::shutdown_send, ignore);
      co_return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) break;
      auto [ec] = co_await from.async_wait(tcp::socket::wait_read, kNoThrow);
      if (ec) break;
      continue;
    }
    last = SteadyClock::now();
    bytes += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (left > 0) {
      ssize_t m = ::splice(pipe.r, nullptr, out, nullptr, left, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m > 0) {
        left -= static_cast<size_t>(m);
        continue;
      }
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 && errno == EAGAIN) {
        auto [ec] = co_await to.async_wait(tcp::socket::wait_write, kNoThrow);
        if (ec) co_return;
        continue;
      }
      co_return;  // the other side is gone
    }
  }
  // An error on `from`: nothing more will come from it.
  boost::system::error_code ignore;
  to.shutdown(tcp::socket::shutdown_send, ignore);
}

// One direction of relayTls: ends (closing both sockets, which ends the other direction
// too) at end-of-file or an error.
asio::awaitable<void> copyOneWay(TlsStream& from, TlsStream& to, uint64_t& bytes, SteadyClock::time_point& last, char* buf) {
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf, kRelayBuffer / 2), kNoThrow);
    if (ec || n == 0) break;
    last = SteadyClock::now();
    bytes += n;
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf, n), kNoThrow);
    if (wec) break;
  }
  boost::system::error_code ignore;
  beast::get_lowest_layer(from).socket().close(ignore);
  beast::get_lowest_layer(to).socket().close(ignore);
}

// Ends the relay when nothing moved for `idle` (closing both sockets ends both directions).
asio::awaitable<void> idleWatch(asio::steady_timer& timer, SteadyClock::time_point& last, std::chrono::seconds idle,
                                tcp::socket& a, tcp::socket& b) {
  for (;;) {
    timer.expires_at(last + idle);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) co_return;
    if (SteadyClock::now() - last >= idle) break;
  }
  boost::system::error_code ignore;
  a.close(ignore);
  b.close(ignore);
}

}  // namespace

asio::awaitable<void> relayTls(Session& s, TlsStream& client, TlsStream& server, Upstream& up, audit::HttpRecord& rec) {
  beast::flat_buffer& client_buf = s.buf;
  beast::flat_buffer& server_buf = up.buf;
  using namespace asio::experimental::awaitable_operators;
  beast::tcp_stream& a = beast::get_lowest_layer(client);
  beast::tcp_stream& b = beast::get_lowest_layer(server);
  a.expires_never();
  b.expires_never();
  if (client_buf.size() > 0) {
    rec.bytes_up += client_buf.size();
    auto [ec, n] = co_await asio::async_write(server, client_buf.data(), kNoThrow);
    if (ec) co_return;
    client_buf.consume(client_buf.size());
  }
  if (server_buf.size() > 0) {
    rec.bytes_down += server_buf.size();
    auto [ec, n] = co_await asio::async_write(client, server_buf.data(), kNoThrow);
    if (ec) co_return;
    server_buf.consume(server_buf.size());
  }
  auto up_buf = std::make_unique<char[]>(kRelayBuffer / 2);
  SteadyClock::time_point last = SteadyClock::now();
  asio::steady_timer timer(a.get_executor());
  char* down_buf = s.relay.get();
  co_await ((copyOneWay(client, server, rec.bytes_up, last, up_buf.get()) &&
             copyOneWay(server, client, rec.bytes_down, last, down_buf)) ||
            idleWatch(timer, last, s.shared.options.idle_timeout, a.socket(), b.socket()));
  up.key.clear();
}

asio::awaitable<void> tunnel(Session& s, Upstream& up, audit::HttpRecord& rec) {
  using namespace asio::experimental::awaitable_operators;
  s.client.expires_never();
  up.stream.expires_never();
  // What either side sent that the proxy has read goes first.
  if (s.buf.size() > 0) {
    rec.bytes_up += s.buf.size();
    auto [ec, n] = co_await asio::async_write(up.stream.socket(), s.buf.data(), kNoThrow);
    if (ec) co_return;
    s.buf.consume(s.buf.size());
  }
  if (up.buf.size() > 0) {
    rec.bytes_down += up.buf.size();
    auto [ec, n] = co_await asio::async_write(s.client.socket(), up.buf.data(), kNoThrow);
    if (ec) co_return;
    up.buf.consume(up.buf.size());
  }
  tcp::socket& a = s.client.socket();
  tcp::socket& b = up.stream.socket();
  boost::system::error_code ec;
  a.native_non_blocking(true, ec);
  b.native_non_blocking(true, ec);
  SteadyClock::time_point last = SteadyClock::now();
  asio::steady_timer timer(a.get_executor());
  co_await ((pump(a, b, rec.bytes_up, last) && pump(b, a, rec.bytes_down, last)) ||
            idleWatch(timer, last, s.shared.options.idle_timeout, a, b));
  a.close(ec);
  b.close(ec);
  up.key.clear();
}

}  // namespace km::net::proxy
