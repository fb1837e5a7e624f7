#include "app/periodic_task.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "support/eventually.hpp"
#include "support/loop_thread.hpp"

namespace voicegate::app {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;

// The task's executor: an io_context on its own thread, as the App's first loop.
class LoopThread : public test::LoopThread {
public:
    asio::any_io_executor executor() { return io().get_executor(); }
};

PeriodicTask::Step counting(std::atomic<int>& runs) {
    return [&runs](PeriodicTask&) -> asio::awaitable<void> {
        ++runs;
        co_return;
    };
}

TEST(PeriodicTask, RunsEveryIntervalUntilStopped) {
    LoopThread loop;
    std::atomic<int> runs{0};
    PeriodicTask task(loop.executor(), {"test", 10ms, false}, counting(runs));
    task.start();
    ASSERT_TRUE(test::eventually([&] { return runs.load() >= 3; }, 5s));
    task.stop();
    const int after_stop = runs.load();
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(runs.load(), after_stop);  // no run begins after stop()
    EXPECT_TRUE(task.stopping());
}

TEST(PeriodicTask, WaitsOneIntervalBeforeTheFirstRunUnlessRunAtStart) {
    LoopThread loop;
    std::atomic<int> waited{0};
    std::atomic<int> at_once{0};
    PeriodicTask later(loop.executor(), {"later", 10s, false}, counting(waited));
    PeriodicTask now(loop.executor(), {"now", 10s, true}, counting(at_once));
    later.start();
    now.start();
    ASSERT_TRUE(test::eventually([&] { return at_once.load() == 1; }, 5s));
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(waited.load(), 0);
    EXPECT_EQ(at_once.load(), 1);
}

TEST(PeriodicTask, StopCancelsALongWaitAndReturnsPromptly) {
    LoopThread loop;
    std::atomic<int> runs{0};
    PeriodicTask task(loop.executor(), {"test", 1h, false}, counting(runs));
    task.start();
    std::this_thread::sleep_for(20ms);
    const auto before = std::chrono::steady_clock::now();
    task.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
    EXPECT_EQ(runs.load(), 0);
}

TEST(PeriodicTask, StopWaitsForTheRunningStep) {
    LoopThread loop;
    std::atomic<bool> in_step{false};
    std::atomic<bool> step_done{false};
    PeriodicTask task(loop.executor(), {"test", 1ms, true},
                      [&](PeriodicTask& t) -> asio::awaitable<void> {
                          in_step = true;
                          // A step of several awaits: the pause is cut short by stop().
                          co_await t.pause(100ms);
                          std::this_thread::sleep_for(50ms);  // work that does not yield
                          step_done = true;
                      });
    task.start();
    ASSERT_TRUE(test::eventually([&] { return in_step.load(); }, 5s));
    task.stop();
    EXPECT_TRUE(step_done.load());
}

TEST(PeriodicTask, PauseReturnsFalseOnceStopped) {
    LoopThread loop;
    std::atomic<bool> pausing{false};
    std::atomic<int> pause_result{-1};
    PeriodicTask task(loop.executor(), {"test", 1ms, true},
                      [&](PeriodicTask& t) -> asio::awaitable<void> {
                          if (pause_result.load() == -1) {
                              pausing = true;
                              pause_result = (co_await t.pause(1h)) ? 1 : 0;
                          }
                      });
    task.start();
    ASSERT_TRUE(test::eventually([&] { return pausing.load(); }, 5s));
    task.stop();
    EXPECT_EQ(pause_result.load(), 0);
}

TEST(PeriodicTask, NextWaitUntilWokenSleepsUntilWake) {
    LoopThread loop;
    std::atomic<int> runs{0};
    PeriodicTask task(loop.executor(), {"test", 1ms, true},
                      [&](PeriodicTask& t) -> asio::awaitable<void> {
                          ++runs;
                          t.next_wait(PeriodicTask::kUntilWoken);
                          co_return;
                      });
    task.start();
    ASSERT_TRUE(test::eventually([&] { return runs.load() == 1; }, 5s));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(runs.load(), 1);  // dormant: the 1 ms interval does not apply
    // Repeated until it lands: a wake() before the task waits again would be a no-op.
    ASSERT_TRUE(test::eventually(
        [&] {
            if (runs.load() >= 2) {
                return true;
            }
            task.wake();
            return false;
        },
        5s));
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(runs.load(), 2);
    task.stop();
}

TEST(PeriodicTask, WakeEndsTheIntervalEarly) {
    LoopThread loop;
    std::atomic<int> runs{0};
    PeriodicTask task(loop.executor(), {"test", 1h, false}, counting(runs));
    task.start();
    // A wake() that comes before the task waits is a no-op: repeat it until it lands.
    ASSERT_TRUE(test::eventually(
        [&] {
            // Checked before waking again: a later wake() may add a run of its own.
            if (runs.load() >= 1) {
                return true;
            }
            task.wake();
            return false;
        },
        5s));
    task.stop();
}

TEST(PeriodicTask, AStepThatThrowsEndsTheTaskAndStopStillReturns) {
    LoopThread loop;
    std::atomic<int> runs{0};
    PeriodicTask task(loop.executor(), {"test", 1ms, true},
                      [&](PeriodicTask&) -> asio::awaitable<void> {
                          ++runs;
                          throw std::runtime_error("boom");
                          co_return;
                      });
    task.start();
    ASSERT_TRUE(test::eventually([&] { return runs.load() == 1; }, 5s));
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(runs.load(), 1);
    const auto before = std::chrono::steady_clock::now();
    task.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
}

TEST(PeriodicTask, StopWithoutStartReturnsAtOnce) {
    asio::io_context io;  // never run
    std::atomic<int> runs{0};
    PeriodicTask task(io.get_executor(), {"test", 1ms, true}, counting(runs));
    const auto before = std::chrono::steady_clock::now();
    task.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
    EXPECT_EQ(runs.load(), 0);
}

}  // namespace
}  // namespace voicegate::app
