#include "app/background.hpp"

#include <malloc.h>

#include <spdlog/spdlog.h>

namespace voicegate::app {
namespace asio = boost::asio;

namespace {

std::int64_t steady_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

BackgroundTasks::BackgroundTasks(asio::any_io_executor executor, Deps deps) : deps_(deps) {
    using Step = asio::awaitable<void> (BackgroundTasks::*)(PeriodicTask&);
    auto task = [this, &executor](std::string name, std::chrono::milliseconds every, bool at_start,
                                  Step step) {
        return std::make_unique<PeriodicTask>(
            executor, PeriodicTask::Options{std::move(name), every, at_start},
            [this, step](PeriodicTask& t) { return (this->*step)(t); });
    };
    usage_task_ = task("metrics: usage refresh", std::chrono::seconds(5), true,
                       &BackgroundTasks::refresh_usage);
    trim_task_ = task("release memory", std::chrono::milliseconds(500), false,
                      &BackgroundTasks::release_memory);
    maintain_task_ =
        task("store maintenance", std::chrono::seconds(1), false, &BackgroundTasks::maintain_store);
    if (deps_.notifier != nullptr && deps_.telemetry.detector) {
        alert_task_ = task("alerts", std::chrono::seconds(deps_.config.alerts.interval_s), false,
                           &BackgroundTasks::run_alerts);
    }
}

// In the order start() starts them.
std::vector<PeriodicTask*> BackgroundTasks::tasks() const {
    std::vector<PeriodicTask*> out;
    for (const auto* t : {&alert_task_, &usage_task_, &trim_task_, &maintain_task_}) {
        if (*t) {
            out.push_back(t->get());
        }
    }
    return out;
}

void BackgroundTasks::start() {
    last_scrape_ms_ = steady_now_ms();  // the usage gauges are read for a while after start
    for (auto* task : tasks()) {
        task->start();
    }
}

void BackgroundTasks::stop() {
    const auto all = tasks();
    for (auto* task : all) {
        task->request_stop();
    }
    for (auto* task : all) {
        task->stop();
    }
}

void BackgroundTasks::scraped() {
    last_scrape_ms_ = steady_now_ms();
    if (usage_dormant_.exchange(false)) {
        usage_task_->wake();
    }
}

metrics::UsageSnapshot BackgroundTasks::usage() const {
    std::lock_guard lock(usage_mutex_);
    return usage_;
}

asio::awaitable<void> BackgroundTasks::refresh_usage(PeriodicTask& task) {
    store::LiveQuery q;
    q.now_ms = deps_.clock.now_ms();
    q.max_age_ms = static_cast<std::int64_t>(deps_.config.quota.session_max_minutes) * 60'000;
    q.limit = 0;  // the count and today's totals only
    auto live = co_await deps_.store.live(q);
    if (live) {
        std::lock_guard lock(usage_mutex_);
        usage_.open_sessions = static_cast<double>(live->open_sessions);
        usage_.billable_seconds_today = static_cast<double>(live->today.billable_ms) / 1000.0;
        usage_.cost_usd_today = live->today.cost_usd;
    } else {
        spdlog::warn("metrics: usage gauges not refreshed: {}", live.error().details);
    }
    // Without a recent scrape nobody reads the gauges: sleep until scraped() wakes the
    // task (the scrape that wakes it sees the figures of the last refresh).
    const bool scraped = steady_now_ms() - last_scrape_ms_.load() <
                         std::chrono::milliseconds(kUsageDormantAfter).count();
    usage_dormant_ = !scraped;
    if (!scraped) {
        task.next_wait(PeriodicTask::kUntilWoken);
    }
}

// After a burst an idle server would go on holding its peak: the store's page caches and mapped
// database pages, and what malloc keeps for reuse (per-thread arenas, buffers of closed
// connections). Once a second without a finished request follows a busy spell, the store lets
// go of its caches and malloc_trim() returns free pages: a few milliseconds, once per quiet
// spell, never under load.
asio::awaitable<void> BackgroundTasks::release_memory(PeriodicTask& /*task*/) {
    constexpr int kQuietTicks = 2;  // of 500 ms
    const std::uint64_t now = deps_.telemetry.http ? deps_.telemetry.http->total() : 0;
    if (now != trim_seen_) {
        trim_seen_ = now;
        trim_busy_ = true;
        trim_quiet_ = 0;
    } else if (trim_busy_ && ++trim_quiet_ >= kQuietTicks) {
        trim_busy_ = false;
        deps_.store.release_memory();
        malloc_trim(0);
    }
    co_return;
}

// Refusals are counted in memory (SessionStore::record_denial); this writes them once a second,
// so a flood of refusals costs one small transaction a second, not one per request. Each hour
// (and soon after start) the rows past retention are deleted in batches of a few thousand, a
// pause between batches, so the writer is never held for long.
asio::awaitable<void> BackgroundTasks::maintain_store(PeriodicTask& task) {
    if (auto r = co_await deps_.store.flush_denials(); !r) {
        spdlog::warn("store: denial counts not written yet (kept for the next try): {}",
                     r.error().details);
    }
    if (++maintain_ticks_ >= kPruneEveryTicks) {
        maintain_ticks_ = 0;
        co_await prune_store(task);  // false: stopping, which ends the task anyway
    }
}

// One retention pass; false when shutdown interrupted it.
asio::awaitable<bool> BackgroundTasks::prune_store(PeriodicTask& task) {
    const store::PruneRequest request =
        store::retention_request(deps_.clock.now_ms(), deps_.config.store.events_retention_days,
                                 deps_.config.store.denial_counts_retention_days);
    if (request.events_before_ms == 0 && request.denials_before_minute == 0) {
        co_return true;
    }
    store::PruneReport total;
    for (;;) {
        auto step = co_await deps_.store.prune(request);
        if (!step) {
            spdlog::warn("store: retention prune failed (retried next hour): {}",
                         step.error().details);
            break;
        }
        deps_.telemetry.store.pruned(static_cast<std::uint64_t>(step->events),
                                     static_cast<std::uint64_t>(step->denial_rows));
        total.events += step->events;
        total.denial_rows += step->denial_rows;
        if (step->events < request.limit && step->denial_rows < request.limit) {
            break;
        }
        // A pause between batches, during which the writer serves requests (and denials are
        // flushed: a long backlog must not hold them back).
        if (!co_await task.pause(std::chrono::milliseconds(50))) {
            co_return false;
        }
        (void)co_await deps_.store.flush_denials();
    }
    if (total.events > 0 || total.denial_rows > 0) {
        spdlog::info("store: retention removed {} events and {} per-minute denial rows",
                     total.events, total.denial_rows);
    }
    co_return true;
}

asio::awaitable<void> BackgroundTasks::run_alerts(PeriodicTask& /*task*/) {
    alerts::Totals totals;
    totals.upstream_calls = deps_.telemetry.upstream.calls();
    totals.upstream_errors = deps_.telemetry.upstream.error_calls();
    for (auto& alert : deps_.telemetry.detector->evaluate(totals)) {
        co_await deps_.notifier->deliver(std::move(alert));
    }
}

}  // namespace voicegate::app
