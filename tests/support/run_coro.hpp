#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace voicegate::test {

/// Runs `aw` on `io` until it finishes and returns its value (rethrowing its exception).
/// Restarts `io` first, so it can be called repeatedly on one io_context. Blocking: runs `io`
/// on the calling thread; T must be default-constructible (co_spawn's requirement).
template <class T>
T run_coro(boost::asio::io_context& io, boost::asio::awaitable<T> aw) {
    auto result = boost::asio::co_spawn(io, std::move(aw), boost::asio::use_future);
    io.restart();
    io.run();
    return result.get();
}

}  // namespace voicegate::test
