#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "alerts/notifier.hpp"
#include "app/periodic_task.hpp"
#include "app/telemetry.hpp"
#include "core/clock.hpp"
#include "config/config.hpp"
#include "metrics/instruments.hpp"
#include "store/audit.hpp"
#include "store/session_store.hpp"

namespace voicegate::app {

/// The service's periodic work, each a PeriodicTask on one executor (the first loop): the
/// usage gauges' refresh (dormant without /metrics scrapes), the release of memory after a
/// burst, the store's denial flush and retention pruning, and, with a detector and notifier,
/// the alert evaluation.
/// Thread safety: start()/stop() from the controlling thread (not the executor's); scraped()
/// and usage() from any thread. Everything it borrows must outlive it.
class BackgroundTasks {
public:
    /// What the tasks work on (borrowed). `notifier` null: no alert task.
    struct Deps {
        const config::Config& config;
        const Clock& clock;
        store::SessionStore& store;
        Telemetry& telemetry;
        alerts::Notifier* notifier = nullptr;
    };

    /// The tasks, built but not started.
    BackgroundTasks(boost::asio::any_io_executor executor, Deps deps);

    /// Starts every task (the usage refresh runs at once, the others after one interval).
    void start();
    /// Cancels every task's wait at once, then waits for the step each may be running.
    void stop();
    /// A /metrics scrape happened: the usage refresh goes on (and wakes if it was dormant).
    void scraped();
    /// The usage figures of the last refresh, for the gauges.
    metrics::UsageSnapshot usage() const;

private:
    // The refresh runs while /metrics is scraped; after kUsageDormantAfter without a scrape it
    // stops reading the store until the next scrape wakes it.
    static constexpr std::chrono::minutes kUsageDormantAfter{5};
    static constexpr int kPruneEveryTicks = 3600;  // maintain_store ticks (seconds)

    boost::asio::awaitable<void> refresh_usage(PeriodicTask& task);
    boost::asio::awaitable<void> release_memory(PeriodicTask& task);
    boost::asio::awaitable<void> maintain_store(PeriodicTask& task);
    boost::asio::awaitable<bool> prune_store(PeriodicTask& task);
    boost::asio::awaitable<void> run_alerts(PeriodicTask& task);
    std::vector<PeriodicTask*> tasks() const;

    Deps deps_;
    mutable std::mutex usage_mutex_;
    metrics::UsageSnapshot usage_;                 // guarded by usage_mutex_
    std::atomic<std::int64_t> last_scrape_ms_{0};  // steady clock
    std::atomic<bool> usage_dormant_{false};
    // release_memory's state (on the executor only).
    std::uint64_t trim_seen_ = 0;
    bool trim_busy_ = false;
    int trim_quiet_ = 0;
    int maintain_ticks_ = kPruneEveryTicks - 10;  // the first prune 10 s after start
    std::unique_ptr<PeriodicTask> usage_task_;
    std::unique_ptr<PeriodicTask> trim_task_;
    std::unique_ptr<PeriodicTask> maintain_task_;
    std::unique_ptr<PeriodicTask> alert_task_;
};

}  // namespace voicegate::app
