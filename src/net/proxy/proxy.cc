// The proxy's listeners and threads: two acceptors on the host end of the veth, one
// coroutine per client connection (on its own strand when there are several threads), and
// the audit records' writes: at once after a quiet spell, batched under load by a timer
// armed only while some are pending.
#include "net/proxy/proxy.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <thread>

#include "core/fs.h"
#include "core/log.h"
#include "net/proxy/asio_address.h"
#include "net/proxy/server.h"

namespace km::net::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kLog = "km.proxy";
constexpr auto kFlushAfter = std::chrono::milliseconds(100);

// Session coroutines do not throw; anything that escapes anyway (bad_alloc) ends only that
// session, logged.
void logEscape(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    log::error(kLog, std::string("a proxy session ended on an exception: ") + x.what());
  } catch (...) {
    log::error(kLog, "a proxy session ended on an unknown exception");
  }
}

}  // namespace

Shared::Shared(Options o, audit::Writer& a)
    : options(std::move(o)), names(options.resolver), sentinels(options.secrets), audit(a) {
  if (options.source) github = std::make_unique<GithubAccess>(*options.source);
  // Where it goes first (the most telling refusal), then how.
  chain.add(hostPolicyFilter(options.policy));
  chain.add(destinationFilter());
  chain.add(portFilter(options.connect_ports));
  if (options.https_only) chain.add(httpsOnlyFilter());
  if (options.metering) chain.add(aiOverTlsFilter(&*options.metering));
}

Interceptor* Shared::interceptor(std::string* why) {
  std::call_once(interceptor_once_, [this] {
    auto made = Interceptor::make(*options.intercept);
    if (made) {
      interceptor_ = std::move(*made);
    } else {
      interceptor_error_ = "TLS interception is unavailable: " + made.error().message();
      log::error(kLog, interceptor_error_);
    }
  });
  if (!interceptor_ && why) *why = interceptor_error_;
  return interceptor_.get();
}

struct Proxy::Impl {
  Impl(Options o, audit::Writer& a)
      : shared(std::move(o), a), explicit_acceptor(ctx), transparent_acceptor(ctx), flush_strand(ctx.get_executor()),
        flush_timer(flush_strand) {
    shared.request_flush = [this] { requestFlush(); };
  }

  // A record after a quiet spell is written at once (`km logs` right after a request shows
  // it); under load records are batched: the first one within kFlushAfter of the last write
  // arms a timer, and what arrives before it fires goes out in the same write.
  void requestFlush() {
    auto now = std::chrono::steady_clock::now();
    int64_t now_ns = now.time_since_epoch().count();
    if (!flush_pending.load() && now_ns - last_flush_ns.load() >= std::chrono::nanoseconds(kFlushAfter).count()) {
      last_flush_ns = now_ns;
      shared.audit.flush(now);
      return;
    }
    if (flush_pending.exchange(true)) return;
    asio::post(flush_strand, [this] {
      flush_timer.expires_after(kFlushAfter);
      flush_timer.async_wait([this](boost::system::error_code ec) {
        auto at = std::chrono::steady_clock::now();
        last_flush_ns = at.time_since_epoch().count();
        flush_pending = false;
        if (!ec) shared.audit.flush(at);
      });
    });
  }

  Status bind(tcp::acceptor& acceptor, uint16_t port) {
    boost::system::error_code ec;
    tcp::endpoint at(toAsio(shared.options.listen), port);
    acceptor.open(at.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(at, ec);
    if (!ec) acceptor.listen(1024, ec);
    if (ec) {
      return unavailable("the proxy cannot listen on " + Endpoint{shared.options.listen, port}.toString() + ": " +
                         ec.message());
    }
    return ok();
  }

  asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor, bool transparent) {
    for (;;) {
      // One thread needs no strands (the default); more serialise each session on its own.
      asio::any_io_executor on = shared.options.threads > 1 ? asio::any_io_executor(asio::make_strand(ctx))
                                                            : asio::any_io_executor(ctx.get_executor());
      auto [ec, socket] = co_await acceptor.async_accept(on, kNoThrow);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {
        // EMFILE and the like: wait a little rather than spin.
        asio::steady_timer pause(ctx);
        pause.expires_after(std::chrono::milliseconds(50));
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      ++shared.connections;
      if (shared.active.load() >= shared.options.max_connections) {
        ++shared.over_limit;
        boost::system::error_code ignore;
        socket.close(ignore);
        continue;
      }
      auto ex = socket.get_executor();
      if (transparent) {
        asio::co_spawn(ex, serveTransparent(shared, std::move(socket)), logEscape);
      } else {
        asio::co_spawn(ex, serveExplicit(shared, std::move(socket)), logEscape);
      }
    }
  }

  Shared shared;
  asio::io_context ctx;
  tcp::acceptor explicit_acceptor, transparent_acceptor;
  asio::strand<asio::io_context::executor_type> flush_strand;
  asio::steady_timer flush_timer;
  std::atomic<bool> flush_pending{false};
  std::atomic<int64_t> last_flush_ns{0};
  std::vector<std::thread> threads;
  bool started = false;
};

Proxy::Proxy(Options options, audit::Writer& audit) : impl_(std::make_unique<Impl>(std::move(options), audit)) {}

Proxy::~Proxy() { stop(); }

Status Proxy::start() {
  if (impl_->started) return ok();
  // The interceptor itself is made on first use; a missing tls.extraCAFile is said now.
  if (const auto& ic = impl_->shared.options.intercept; ic && !ic->extra_ca_file.empty() && !fs::exists(ic->extra_ca_file)) {
    return invalidArgument("operator config tls.extraCAFile: " + ic->extra_ca_file + " does not exist");
  }
  KM_TRY(impl_->bind(impl_->explicit_acceptor, impl_->shared.options.explicit_port));
  if (auto s = impl_->bind(impl_->transparent_acceptor, impl_->shared.options.transparent_port); !s) {
    boost::system::error_code ignore;
    impl_->explicit_acceptor.close(ignore);
    return s;
  }
  asio::co_spawn(impl_->ctx, impl_->acceptLoop(impl_->explicit_acceptor, false), logEscape);
  asio::co_spawn(impl_->ctx, impl_->acceptLoop(impl_->transparent_acceptor, true), logEscape);
  int n = std::max(1, impl_->shared.options.threads);
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([this] {
      // A handler that throws (Beast refusing a field it cannot hold, say a 200 kB chunked
      // trailer) ends only its own connection: its session is destroyed with the handler, and
      // the thread goes on serving the others. Without this the supervisor would terminate.
      for (;;) {
        try {
          impl_->ctx.run();
          return;
        } catch (const std::exception& e) {
          log::error(kLog, std::string("a proxy connection ended on an exception: ") + e.what());
        } catch (...) {
          log::error(kLog, "a proxy connection ended on an unknown exception");
        }
      }
    });
  }
  impl_->started = true;
  return ok();
}

void Proxy::stop() {
  if (!impl_ || !impl_->started) return;
  impl_->ctx.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // Budget answers still on their way post into ctx: they land before it goes away (the
  // sessions' handlers are destroyed with it, unrun).
  if (const auto& m = impl_->shared.options.metering; m && m->budget) m->budget->drain();
  boost::system::error_code ignore;
  impl_->explicit_acceptor.close(ignore);
  impl_->transparent_acceptor.close(ignore);
  impl_->started = false;
  // Sessions still open end with the io_context (their sockets close); what they logged
  // so far goes out now.
  impl_->shared.audit.flush(std::chrono::steady_clock::now());
}

Stats Proxy::stats() const {
  const Shared& s = impl_->shared;
  return {s.connections.load(), s.active.load(), s.requests.load(), s.denied.load(), s.over_limit.load()};
}

}  // namespace km::net::proxy
