#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "metrics/registry.hpp"

namespace voicegate::metrics {

/// HTTP requests by route pattern and status, and latency by route. The routes are fixed at
/// construction (the router's patterns; "other" is appended for everything else), so record()
/// is two array indexings and three relaxed atomic adds: no lock, no allocation.
/// Thread-safe.
class HttpMetrics {
public:
    HttpMetrics(Registry& registry, std::vector<std::string> routes);
    /// The index of the "other" route.
    std::size_t other() const { return routes_.size() - 1; }
    /// Counts one finished request. `route` out of range counts as "other".
    void record(std::size_t route, int status, double seconds);
    /// Requests counted for `route` and `status` (tests).
    std::uint64_t count(std::string_view route, int status) const;
    /// Requests counted, all routes and statuses.
    std::uint64_t total() const;

private:
    void collect(Writer& w) const;
    static constexpr int kStatuses = 600;

    std::vector<std::string> routes_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // routes x kStatuses
    std::vector<std::unique_ptr<Histogram>> latency_;
};

/// Calls to the upstream API (OpenAI): final outcome by status class, latency of the whole call
/// (retries included), retries, and failed attempts by kind. Lock-free. Thread-safe.
class UpstreamMetrics {
public:
    explicit UpstreamMetrics(Registry& registry);
    /// A finished call: its final HTTP status (0: no response) and duration.
    void call(int status, double seconds);
    /// A failed attempt. `kind`: a transport error kind (connect, timeout, ...), `http_429`,
    /// `http_4xx`, `http_5xx` or `bad_response`; anything else counts as `other`.
    void attempt_failed(std::string_view kind);
    /// A retry about to be made.
    void retry() { retries_->inc(); }
    /// Calls that ended in an error worth alerting on: 429, 5xx or no response. Monotonic.
    std::uint64_t error_calls() const;
    /// Every finished call. Monotonic.
    std::uint64_t calls() const;

    /// The failed-attempt kinds counted separately.
    static const std::vector<std::string>& error_kinds();

private:
    // 2xx, 4xx (not 429), 429, 5xx, transport_error
    std::array<Counter*, 5> outcomes_{};
    Histogram* latency_ = nullptr;
    Counter* retries_ = nullptr;
    std::vector<Counter*> errors_;  // error_kinds() order, then "other"
};

/// Limiter and quota decisions and token denials (SPEC §4). Lock-free. Thread-safe.
class DecisionMetrics {
public:
    enum class Check { token, route };
    enum class Outcome { allowed, rate_limited, limiter_unavailable };
    /// Quota results: allowed, or which cap refused (from the store's Failure), or `cached`:
    /// refused again from api::QuotaDenials' memory of a recent store refusal.
    enum class Quota { allowed, concurrent, sessions_per_day, minutes_per_day, cached, other };

    explicit DecisionMetrics(Registry& registry);
    void limiter(Check check, Outcome outcome);
    void quota(Quota result);
    /// A token request refused with `reason` (the same code as the token_denied event).
    void denied(Error reason);
    /// Every token denial so far. Monotonic.
    std::uint64_t denials() const;
    /// Denials with `reason` (tests).
    std::uint64_t denials(Error reason) const;

    /// Which cap a quota_exhausted Failure from the store names. Pure.
    static Quota quota_reason(const Failure& f);

private:
    std::array<std::array<Counter*, 3>, 2> limiter_{};
    std::array<Counter*, 6> quota_{};
    std::vector<std::pair<Error, Counter*>> denials_;  // the reasons a token is refused for
    Counter* other_denials_ = nullptr;
};

/// Group commits of the session store (SQLite writer thread, PostgreSQL writers): batches,
/// operations per batch, commit latency and write errors; and the audit's bounds: refusals kept
/// as samples or counted only, rows pruned by retention. Called from the store's threads and
/// the event loops. Lock-free. Thread-safe.
class StoreMetrics {
public:
    explicit StoreMetrics(Registry& registry);
    /// One write transaction of `ops` operations that took `seconds` (BEGIN to COMMIT).
    void batch(std::size_t ops, double seconds);
    /// `n` write operations ended in a storage failure.
    void errors(std::uint64_t n) { errors_->inc(n); }
    /// A refused token request counted; `sampled`: also kept as a token_denied event.
    void denial(bool sampled) { (sampled ? sampled_ : counted_)->inc(); }
    /// Rows deleted by retention.
    void pruned(std::uint64_t events, std::uint64_t denial_rows);
    /// Denials kept as samples, and counted only (tests). Monotonic.
    std::uint64_t denials_sampled() const { return sampled_->value(); }
    std::uint64_t denials_counted_only() const { return counted_->value(); }

private:
    Counter* batches_ = nullptr;
    Histogram* sizes_ = nullptr;
    Histogram* commit_ = nullptr;
    Counter* errors_ = nullptr;
    Counter* sampled_ = nullptr;
    Counter* counted_ = nullptr;
    Counter* pruned_events_ = nullptr;
    Counter* pruned_denials_ = nullptr;
};

/// Today's usage figures (UTC day) for the open-sessions / minutes / cost gauges.
struct UsageSnapshot {
    double open_sessions = 0;
    double billable_seconds_today = 0;
    std::optional<double> cost_usd_today;  // nullopt: unknown (no price table)
};

/// Supplies usage figures at scrape time. It must not block (it runs on an event loop): the
/// store-backed provider answers from a value it refreshes in the background.
using UsageProvider = std::function<UsageSnapshot()>;

/// Registers the usage gauges (`voicegate_open_sessions`,
/// `voicegate_billable_time_today_seconds`, `voicegate_estimated_cost_usd_today`) evaluated through
/// `provider` at most once per `cache_ms` (concurrent scrapes share one evaluation). `scope` goes
/// into the HELP text (e.g. "this instance's").
void register_usage(Registry& registry, const Clock& clock, UsageProvider provider,
                    std::int64_t cache_ms, const std::string& scope);

/// Identity of the build for `voicegate_build_info`.
struct BuildInfo {
    std::string version;
    std::string store;    // sqlite | postgres
    std::string limiter;  // memory | redis
};

/// Registers build info, process start time, resident memory (from /proc/self/statm) and open
/// client connections (`connections` is called at scrape time).
void register_process(Registry& registry, const BuildInfo& build, const Clock& clock,
                      std::function<double()> connections);

/// Resident set size of this process in bytes from /proc/self/statm; 0 if unreadable.
double resident_memory_bytes();

}  // namespace voicegate::metrics
