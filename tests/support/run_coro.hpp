#pragma once

#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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

/// Runs `per_thread` coroutines made by `make(thread, i)` on `threads` threads, each with its
/// own io_context (the share-nothing layout of the service); returns when all have finished.
inline void run_on_loops(int threads, int per_thread,
                         const std::function<boost::asio::awaitable<void>(int, int)>& make) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([t, per_thread, &make] {
            boost::asio::io_context io;
            for (int i = 0; i < per_thread; ++i) {
                boost::asio::co_spawn(io, make(t, i), boost::asio::detached);
            }
            io.run();
        });
    }
    for (auto& th : pool) {
        th.join();
    }
}

}  // namespace voicegate::test
