#pragma once

#include <future>
#include <thread>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace voicegate::test {

/// An event loop on its own thread, like one of the App's loops; for components that keep
/// background work (connections) on their loop, which `run_coro` would wait for forever.
class LoopThread {
public:
    LoopThread() : thread_([this] { io_.run(); }) {}
    ~LoopThread() { stop(); }
    LoopThread(const LoopThread&) = delete;
    LoopThread& operator=(const LoopThread&) = delete;

    boost::asio::io_context& io() { return io_; }

    /// Starts `aw` on the loop; the future holds its result.
    template <class T>
    std::future<T> spawn(boost::asio::awaitable<T> aw) {
        return boost::asio::co_spawn(io_, std::move(aw), boost::asio::use_future);
    }

    /// Runs `aw` on the loop and waits for its result.
    template <class T>
    T run(boost::asio::awaitable<T> aw) {
        return spawn(std::move(aw)).get();
    }

    /// Stops the loop and joins its thread (pending work is destroyed with the io_context).
    void stop() {
        if (thread_.joinable()) {
            guard_.reset();
            io_.stop();
            thread_.join();
        }
    }

private:
    boost::asio::io_context io_{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
        io_.get_executor()};
    std::thread thread_;
};

}  // namespace voicegate::test
