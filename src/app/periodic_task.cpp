#include "app/periodic_task.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace voicegate::app {
namespace asio = boost::asio;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

// Shared with the coroutine, so a stop() that gave up waiting (the executor no longer runs)
// leaves it nothing dangling.
struct PeriodicTask::State {
    State(asio::any_io_executor ex, Options o, Step s)
        : executor(std::move(ex)), options(std::move(o)), step(std::move(s)), timer(executor) {}

    asio::any_io_executor executor;
    Options options;
    Step step;
    asio::steady_timer timer;  // used on the executor only
    std::optional<std::chrono::milliseconds> next_wait;
    std::atomic<bool> stopping{false};
    std::atomic<bool> waiting{false};  // in the wait between runs (what wake() may end)
    std::mutex mutex;
    std::condition_variable done_cv;
    bool started = false;
    bool running = false;  // the loop has not returned yet
};

PeriodicTask::PeriodicTask(asio::any_io_executor executor, Options options, Step step)
    : state_(std::make_shared<State>(std::move(executor), std::move(options), std::move(step))) {}

PeriodicTask::~PeriodicTask() {
    stop();
}

void PeriodicTask::start() {
    {
        std::lock_guard lock(state_->mutex);
        state_->started = true;
        state_->running = true;
    }
    asio::co_spawn(state_->executor, run(state_, this), asio::detached);
}

asio::awaitable<void> PeriodicTask::run(std::shared_ptr<State> state, PeriodicTask* task) {
    // Marks the loop ended however it leaves (return, exception, or its frame destroyed with a
    // stopped executor), so stop() never waits on a loop that is gone.
    struct Done {
        State* s;
        ~Done() {
            {
                std::lock_guard lock(s->mutex);
                s->running = false;
            }
            s->done_cv.notify_all();
        }
    } done{state.get()};
    bool first = true;
    while (!state->stopping.load()) {
        if (!first || !state->options.run_at_start) {
            const auto wait = state->next_wait.value_or(state->options.interval);
            state->next_wait.reset();
            if (wait == kUntilWoken) {
                state->timer.expires_at(asio::steady_timer::time_point::max());
            } else {
                state->timer.expires_after(wait);
            }
            state->waiting = true;
            auto [ec] = co_await state->timer.async_wait(kUseTuple);
            (void)ec;  // cancelled: wake() or stop(); stopping tells them apart
            state->waiting = false;
            if (state->stopping.load()) {
                break;
            }
        }
        first = false;
        try {
            co_await state->step(*task);
        } catch (const std::exception& e) {
            // As a detached coroutine would end on it, but not silently.
            spdlog::error("{}: unexpected exception, task ended: {}", state->options.name,
                          e.what());
            break;
        }
    }
}

void PeriodicTask::request_stop() {
    if (state_->stopping.exchange(true)) {
        return;
    }
    asio::post(state_->executor, [s = state_] { s->timer.cancel(); });
}

void PeriodicTask::stop(std::chrono::milliseconds grace) {
    request_stop();
    std::unique_lock lock(state_->mutex);
    if (!state_->started) {
        return;
    }
    state_->done_cv.wait_for(lock, grace, [this] { return !state_->running; });
}

void PeriodicTask::wake() {
    if (state_->stopping.load()) {
        return;
    }
    asio::post(state_->executor, [s = state_] {
        if (s->waiting.load()) {
            s->timer.cancel();
        }
    });
}

bool PeriodicTask::stopping() const {
    return state_->stopping.load();
}

void PeriodicTask::next_wait(std::chrono::milliseconds wait) {
    state_->next_wait = wait;
}

asio::awaitable<bool> PeriodicTask::pause(std::chrono::milliseconds duration) {
    if (state_->stopping.load()) {
        co_return false;
    }
    state_->timer.expires_after(duration);
    auto [ec] = co_await state_->timer.async_wait(kUseTuple);
    co_return !ec && !state_->stopping.load();
}

}  // namespace voicegate::app
