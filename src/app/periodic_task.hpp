#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace voicegate::app {

/// A step run again and again on one executor with a wait in between, as userver's
/// utils::PeriodicTask: start() spawns the loop, stop() cancels the wait and waits for the
/// running step to finish. The step runs on the executor; a step of several awaits checks
/// stopping() between them, or pauses with pause(), which stop() interrupts.
/// Thread safety: start()/stop() from one controlling thread that is not the executor's;
/// wake() and stopping() from any thread; next_wait() and pause() only from the step.
class PeriodicTask {
public:
    /// One run of the task. It receives the task (for stopping(), next_wait() and pause()).
    using Step = std::function<boost::asio::awaitable<void>(PeriodicTask&)>;
    /// The wait that only wake() or stop() ends.
    static constexpr std::chrono::milliseconds kUntilWoken = std::chrono::milliseconds::max();

    /// How the task runs.
    struct Options {
        std::string name;                    // for the log, should a step throw
        std::chrono::milliseconds interval;  // the wait before each run
        bool run_at_start = false;           // the first run at once, not after one interval
    };

    /// A task that runs `step` on `executor` once started.
    PeriodicTask(boost::asio::any_io_executor executor, Options options, Step step);
    /// Stops the task (as stop()) if it still runs.
    ~PeriodicTask();
    PeriodicTask(const PeriodicTask&) = delete;
    PeriodicTask& operator=(const PeriodicTask&) = delete;

    /// Spawns the loop on the executor. Call once.
    void start();
    /// Ends the loop: no further run begins, the current wait or pause() is cancelled, and this
    /// blocks until the running step has returned (or `grace` has passed, should the executor
    /// no longer run). Idempotent; does nothing if start() was never called.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(2));
    /// Asks for stop() without waiting: the loop ends after the running step.
    void request_stop();
    /// Ends the current wait so the step runs now (a no-op during a run or once stopping).
    void wake();
    /// Whether stop() (or request_stop()) has been called.
    bool stopping() const;
    /// From the step: the wait before the next run only (kUntilWoken: until wake()); later runs
    /// wait the interval again unless told otherwise.
    void next_wait(std::chrono::milliseconds wait);
    /// From the step: waits `duration`; false when stop() cut the pause short or came before.
    boost::asio::awaitable<bool> pause(std::chrono::milliseconds duration);

private:
    struct State;
    static boost::asio::awaitable<void> run(std::shared_ptr<State> state, PeriodicTask* task);
    std::shared_ptr<State> state_;
};

}  // namespace voicegate::app
