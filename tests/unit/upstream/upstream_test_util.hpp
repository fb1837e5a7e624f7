#pragma once

// Helpers of the upstream tests; run_coro is support/run_coro.hpp's, shared by every suite.

#include <chrono>
#include <cstdint>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace voicegate::upstream::testing_util {

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
