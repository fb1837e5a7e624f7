#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>

namespace voicegate::upstream::testing_util {

/// Runs `aw` on `ioc` until it completes and returns its result (rethrows its exception).
template <class T>
T run_coro(boost::asio::io_context& ioc, boost::asio::awaitable<T> aw) {
    auto fut = boost::asio::co_spawn(ioc, std::move(aw), boost::asio::use_future);
    ioc.restart();
    ioc.run();
    return fut.get();
}

/// A loopback port with nothing listening on it (bound, then closed).
inline std::uint16_t closed_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = a.local_endpoint().port();
    a.close();
    return port;
}

/// Milliseconds elapsed since `start`.
inline std::int64_t elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

}  // namespace voicegate::upstream::testing_util
