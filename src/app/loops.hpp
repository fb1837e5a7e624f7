#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace voicegate::app {

/// The event loops: one io_context per thread, share-nothing (STYLE performance note).
/// Thread safety: construct, start() and stop() from one controlling thread; pointers() is
/// immutable after construction.
class Loops {
public:
    /// Creates `n` (at least one) idle loops; start() runs them.
    explicit Loops(int n);
    ~Loops();
    Loops(const Loops&) = delete;
    Loops& operator=(const Loops&) = delete;

    /// The loops, first one first (background tasks run on the first).
    std::vector<boost::asio::io_context*> pointers() const;
    /// Runs each loop on its own thread (named vg-loop-N), kept alive by a work guard; an
    /// exception escaping a handler is logged and the loop goes on.
    void start();
    /// Lets the loops run out of work (servers drained, acceptors closed) so every coroutine
    /// frame ends on its own thread; forces them to stop after `grace`, then joins the threads.
    void stop(std::chrono::milliseconds grace);

private:
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
    std::vector<std::thread> threads_;
};

/// The number of loops for a configured thread count: `configured` when positive, else one per
/// hardware thread (at least one).
int loop_count(int configured);

}  // namespace voicegate::app
