#include "metrics/instruments.hpp"

#include <cstdio>
#include <fstream>

#include <unistd.h>

namespace voicegate::metrics {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

const std::vector<double>& batch_size_buckets() {
    static const std::vector<double> kBuckets{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000};
    return kBuckets;
}

const std::vector<double>& commit_buckets() {
    static const std::vector<double> kBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                              1,      2.5,     5,      10};
    return kBuckets;
}

}  // namespace

// ---- HTTP ------------------------------------------------------------------------------------

HttpMetrics::HttpMetrics(Registry& registry, std::vector<std::string> routes)
    : routes_(std::move(routes)) {
    routes_.emplace_back("other");
    const std::size_t n = routes_.size() * kStatuses;
    counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
    for (std::size_t i = 0; i < n; ++i) {
        counts_[i].store(0, kRelaxed);
    }
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        latency_.push_back(std::make_unique<Histogram>(latency_buckets()));
    }
    registry.collector([this](Writer& w) { collect(w); });
}

void HttpMetrics::record(std::size_t route, int status, double seconds) {
    if (route >= routes_.size()) {
        route = other();
    }
    if (status < 0 || status >= kStatuses) {
        status = 0;
    }
    counts_[route * kStatuses + static_cast<std::size_t>(status)].fetch_add(1, kRelaxed);
    latency_[route]->observe(seconds);
}

std::uint64_t HttpMetrics::count(std::string_view route, int status) const {
    for (std::size_t r = 0; r < routes_.size(); ++r) {
        if (routes_[r] == route && status >= 0 && status < kStatuses) {
            return counts_[r * kStatuses + static_cast<std::size_t>(status)].load(kRelaxed);
        }
    }
    return 0;
}

std::uint64_t HttpMetrics::total() const {
    std::uint64_t n = 0;
    for (const auto& h : latency_) {
        n += h->snapshot().count;
    }
    return n;
}

void HttpMetrics::collect(Writer& w) const {
    constexpr std::string_view kRequests = "voicegate_http_requests_total";
    constexpr std::string_view kLatency = "voicegate_http_request_duration_seconds";
    w.header(kRequests, "HTTP requests by route pattern (\"other\": no route) and status code.",
             "counter");
    for (std::size_t r = 0; r < routes_.size(); ++r) {
        for (int s = 0; s < kStatuses; ++s) {
            const auto n = counts_[r * kStatuses + static_cast<std::size_t>(s)].load(kRelaxed);
            if (n > 0) {
                w.sample(kRequests, {{"route", routes_[r]}, {"status", std::to_string(s)}},
                         static_cast<double>(n));
            }
        }
    }
    w.header(kLatency, "Time from a request read to its response written, by route pattern.",
             "histogram");
    for (std::size_t r = 0; r < routes_.size(); ++r) {
        w.histogram(kLatency, {{"route", routes_[r]}}, *latency_[r]);
    }
}

// ---- Upstream --------------------------------------------------------------------------------

const std::vector<std::string>& UpstreamMetrics::error_kinds() {
    static const std::vector<std::string> kKinds{
        "resolve",         "connect",   "connect_timeout", "tls_handshake", "tls_verify",
        "connection_lost", "truncated", "protocol",        "too_large",     "timeout",
        "http_429",        "http_4xx",  "http_5xx",        "bad_response"};
    return kKinds;
}

UpstreamMetrics::UpstreamMetrics(Registry& registry) {
    auto& calls = registry.counter(
        "voicegate_upstream_requests_total",
        "Calls to the upstream API by final outcome (status class, 429 apart; transport_error: "
        "no response). Retries are inside one call.",
        {"outcome"});
    const std::array<const char*, 5> names{"2xx", "4xx", "429", "5xx", "transport_error"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        outcomes_[i] = &calls.with({names[i]});
    }
    latency_ = &registry
                    .histogram("voicegate_upstream_request_duration_seconds",
                               "Duration of upstream API calls, retries and back-off included.", {},
                               latency_buckets())
                    .with({});
    retries_ = &registry
                    .counter("voicegate_upstream_retries_total",
                             "Upstream attempts retried after a retryable failure.")
                    .with({});
    auto& errors = registry.counter(
        "voicegate_upstream_errors_total",
        "Failed upstream attempts by kind (transport error kind, http_429/4xx/5xx, "
        "bad_response).",
        {"kind"});
    for (const auto& k : error_kinds()) {
        errors_.push_back(&errors.with({k}));
    }
    errors_.push_back(&errors.with({"other"}));
}

void UpstreamMetrics::call(int status, double seconds) {
    std::size_t i = 4;
    if (status == 429) {
        i = 2;
    } else if (status >= 200 && status < 300) {
        i = 0;
    } else if (status >= 400 && status < 500) {
        i = 1;
    } else if (status >= 500) {
        i = 3;
    }
    outcomes_[i]->inc();
    latency_->observe(seconds);
}

void UpstreamMetrics::attempt_failed(std::string_view kind) {
    const auto& kinds = error_kinds();
    std::size_t i = 0;
    while (i < kinds.size() && kinds[i] != kind) {
        ++i;
    }
    errors_[i]->inc();
}

std::uint64_t UpstreamMetrics::error_calls() const {
    return outcomes_[2]->value() + outcomes_[3]->value() + outcomes_[4]->value();
}

std::uint64_t UpstreamMetrics::calls() const {
    std::uint64_t n = 0;
    for (const auto* c : outcomes_) {
        n += c->value();
    }
    return n;
}

// ---- Decisions -------------------------------------------------------------------------------

DecisionMetrics::DecisionMetrics(Registry& registry) {
    auto& limiter = registry.counter(
        "voicegate_limiter_decisions_total",
        "Rate-limiter decisions: check token (per-IP and per-user token limits) or route "
        "(VOICEGATE_RATE_ROUTES); result allowed, rate_limited or limiter_unavailable.",
        {"check", "result"});
    const std::array<const char*, 2> checks{"token", "route"};
    const std::array<const char*, 3> outcomes{"allowed", "rate_limited", "limiter_unavailable"};
    for (std::size_t c = 0; c < checks.size(); ++c) {
        for (std::size_t o = 0; o < outcomes.size(); ++o) {
            limiter_[c][o] = &limiter.with({checks[c], outcomes[o]});
        }
    }
    auto& quota = registry.counter(
        "voicegate_quota_decisions_total",
        "Quota decisions at token issue: allowed, or the cap that refused (concurrent, "
        "sessions_per_day, minutes_per_day; cached: a recent refusal remembered, no store call).",
        {"result"});
    const std::array<const char*, 6> results{"allowed",         "concurrent", "sessions_per_day",
                                             "minutes_per_day", "cached",     "other"};
    for (std::size_t i = 0; i < results.size(); ++i) {
        quota_[i] = &quota.with({results[i]});
    }
    auto& denials = registry.counter(
        "voicegate_token_denials_total",
        "Token requests refused after authentication, by reason (the token_denied event's).",
        {"reason"});
    for (const Error e : {Error::rate_limited, Error::quota_exhausted, Error::store_unavailable}) {
        denials_.emplace_back(e, &denials.with({std::string(error_info(e).code)}));
    }
    other_denials_ = &denials.with({"other"});
}

void DecisionMetrics::limiter(Check check, Outcome outcome) {
    limiter_[static_cast<std::size_t>(check)][static_cast<std::size_t>(outcome)]->inc();
}

void DecisionMetrics::quota(Quota result) {
    quota_[static_cast<std::size_t>(result)]->inc();
}

void DecisionMetrics::denied(Error reason) {
    for (const auto& [e, counter] : denials_) {
        if (e == reason) {
            counter->inc();
            return;
        }
    }
    other_denials_->inc();
}

std::uint64_t DecisionMetrics::denials() const {
    std::uint64_t n = other_denials_->value();
    for (const auto& [e, counter] : denials_) {
        n += counter->value();
    }
    return n;
}

std::uint64_t DecisionMetrics::denials(Error reason) const {
    for (const auto& [e, counter] : denials_) {
        if (e == reason) {
            return counter->value();
        }
    }
    return 0;
}

DecisionMetrics::Quota DecisionMetrics::quota_reason(const Failure& f) {
    // The store's details name the cap (store/quota.cpp); minutes first, as its message does.
    if (f.details.find("ms today") != std::string::npos) {
        return Quota::minutes_per_day;
    }
    if (f.details.find("sessions today") != std::string::npos) {
        return Quota::sessions_per_day;
    }
    if (f.details.find("open sessions") != std::string::npos) {
        return Quota::concurrent;
    }
    return Quota::other;
}

// ---- Store -----------------------------------------------------------------------------------

StoreMetrics::StoreMetrics(Registry& registry) {
    batches_ = &registry
                    .counter("voicegate_store_write_batches_total",
                             "Write transactions (group commits) of the session store.")
                    .with({});
    sizes_ = &registry
                  .histogram("voicegate_store_write_batch_size",
                             "Operations per write transaction (group commit).", {},
                             batch_size_buckets())
                  .with({});
    commit_ =
        &registry
             .histogram("voicegate_store_commit_duration_seconds",
                        "Duration of a write transaction, BEGIN to COMMIT.", {}, commit_buckets())
             .with({});
    errors_ = &registry
                   .counter("voicegate_store_write_errors_total",
                            "Store operations that failed with a storage error.")
                   .with({});
    auto& audit = registry.counter(
        "voicegate_denial_audit_total",
        "Refused token requests as the audit keeps them: kept=sample (also a token_denied "
        "event) or count_only (counted in denials_by_minute and denials_daily only).",
        {"kept"});
    sampled_ = &audit.with({"sample"});
    counted_ = &audit.with({"count_only"});
    auto& pruned = registry.counter("voicegate_store_pruned_rows_total",
                                    "Rows deleted by retention (VOICEGATE_EVENTS_RETENTION_DAYS, "
                                    "VOICEGATE_DENIAL_COUNTS_RETENTION_DAYS), by table.",
                                    {"table"});
    pruned_events_ = &pruned.with({"events"});
    pruned_denials_ = &pruned.with({"denials_by_minute"});
}

void StoreMetrics::pruned(std::uint64_t events, std::uint64_t denial_rows) {
    pruned_events_->inc(events);
    pruned_denials_->inc(denial_rows);
}

void StoreMetrics::batch(std::size_t ops, double seconds) {
    batches_->inc();
    sizes_->observe(static_cast<double>(ops));
    commit_->observe(seconds);
}

// ---- Usage -----------------------------------------------------------------------------------

namespace {

// One provider evaluation shared by the three gauges and by concurrent scrapes.
class CachedUsage {
public:
    CachedUsage(const Clock& clock, UsageProvider provider, std::int64_t cache_ms)
        : clock_(clock), provider_(std::move(provider)), cache_ms_(cache_ms) {}
    UsageSnapshot get() {
        const auto now = clock_.now_ms();
        std::lock_guard lock(mutex_);
        if (!fresh_ || now - at_ms_ >= cache_ms_ || now < at_ms_) {
            value_ = provider_();
            at_ms_ = now;
            fresh_ = true;
        }
        return value_;
    }

private:
    const Clock& clock_;
    UsageProvider provider_;
    std::int64_t cache_ms_;
    std::mutex mutex_;
    bool fresh_ = false;
    std::int64_t at_ms_ = 0;
    UsageSnapshot value_;
};

}  // namespace

void register_usage(Registry& registry, const Clock& clock, UsageProvider provider,
                    std::int64_t cache_ms, const std::string& scope) {
    auto cache = std::make_shared<CachedUsage>(clock, std::move(provider), cache_ms);
    registry.callback("voicegate_open_sessions",
                      "Sessions issued and not yet ended (" + scope + ").", "gauge",
                      [cache](auto& out) {
                          out.push_back({{}, cache->get().open_sessions});
                      });
    registry.callback(
        "voicegate_billable_time_today_seconds",
        "Billable time of sessions ended today, UTC; divide by 60 for minutes (" + scope + ").",
        "gauge", [cache](auto& out) {
            out.push_back({{}, cache->get().billable_seconds_today});
        });
    registry.callback("voicegate_estimated_cost_usd_today",
                      "Estimated upstream cost of today's sessions in US dollars, UTC (" + scope +
                          "; no sample while no price table is known).",
                      "gauge", [cache](auto& out) {
                          if (const auto cost = cache->get().cost_usd_today) {
                              out.push_back({{}, *cost});
                          }
                      });
}

// ---- Process ---------------------------------------------------------------------------------

double resident_memory_bytes() {
    std::ifstream in("/proc/self/statm");
    long long size = 0;
    long long resident = 0;
    if (!(in >> size >> resident)) {
        return 0;
    }
    return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

void register_process(Registry& registry, const BuildInfo& build, const Clock& clock,
                      std::function<double()> connections) {
    registry.callback(
        "voicegate_build_info", "Always 1; labels name the version, store engine and rate limiter.",
        "gauge", [build](auto& out) {
            out.push_back(
                {{{"version", build.version}, {"store", build.store}, {"limiter", build.limiter}},
                 1.0});
        });
    const double started = static_cast<double>(clock.now_ms()) / 1000.0;
    registry.callback("process_start_time_seconds",
                      "Start time of the process since the Unix epoch in seconds.", "gauge",
                      [started](auto& out) {
                          out.push_back({{}, started});
                      });
    registry.callback("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                      [](auto& out) {
                          out.push_back({{}, resident_memory_bytes()});
                      });
    registry.callback("voicegate_open_connections", "Client connections currently open.", "gauge",
                      [fn = std::move(connections)](auto& out) {
                          out.push_back({{}, fn ? fn() : 0.0});
                      });
}

}  // namespace voicegate::metrics
