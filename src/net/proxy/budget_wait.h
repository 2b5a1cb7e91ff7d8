// Awaiting the AI budget from a proxy coroutine (private to the proxy; the ledger bench uses
// it too, to measure the proxy's path). The budget answers on its own thread; the answer is
// posted back to the awaiting coroutine's executor, so no proxy thread ever blocks on it.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace km::net::proxy {

// `start(done)` queues the budget call with `done` as its answer; co_await the result.
template <class T, class Start>
boost::asio::awaitable<T> onBudget(Start start) {
  namespace asio = boost::asio;
  return asio::async_initiate<const asio::use_awaitable_t<>, void(T)>(
      [](auto handler, Start start) {
        using Handler = decltype(handler);
        auto ex = asio::get_associated_executor(handler);
        auto held = std::make_shared<Handler>(std::move(handler));
        auto work = std::make_shared<decltype(asio::make_work_guard(ex))>(asio::make_work_guard(ex));
        start(std::function<void(T)>([held, work, ex](T value) {
          asio::post(ex, [held, value = std::move(value)]() mutable { std::move(*held)(std::move(value)); });
          work->reset();
        }));
      },
      asio::use_awaitable, std::move(start));
}

}  // namespace km::net::proxy
