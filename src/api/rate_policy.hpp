#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "http/message.hpp"
#include "metrics/instruments.hpp"
#include "ratelimit/async_limiter.hpp"
#include "ratelimit/gcra.hpp"

namespace voicegate::api {

/// The rates a RatePolicy enforces (SPEC §4 VOICEGATE_RATE_*), already parsed.
struct RateSettings {
    ratelimit::Rate user;    // token requests per user
    ratelimit::Rate ip;      // token requests per client address (IPv6: per /64)
    std::string user_label;  // the rates as configured, for the refusal details ("10/min")
    std::string ip_label;
    std::vector<std::pair<std::string, ratelimit::Rate>> routes;  // extra per-address limits
};

/// A limiter's answer for one request: allowed, or the refusal (429 with Retry-After, or 503
/// when the limiter could not decide); plus RateLimit-Policy / RateLimit for every enforced
/// policy, which go on the response whatever it is.
struct RateVerdict {
    Result<void> allowed;
    http::Headers headers;

    /// Appends the RateLimit headers to `res`.
    void add_headers_to(http::Response& res) const;
};

/// The verdict for a token request from the limiter's decisions for the address, then the
/// user (in that order, as RatePolicy asks): the first refusal wins; the headers name the
/// user's policy first and skip a policy not enforced (limit 0). Pure.
RateVerdict token_verdict(std::span<const ratelimit::Decision> decided,
                          const RateSettings& settings);

/// The verdict for one request to `path` from its route decision (nullptr: nothing decided).
/// Pure.
RateVerdict route_verdict(const ratelimit::Decision* decided, std::string_view path);

/// The verdict when the limiter could not decide (Redis unreachable, failing closed): 503
/// `store_unavailable` with Retry-After 1. Pure.
RateVerdict limiter_unavailable(const Failure& cause);

/// The token and route rate limits (SPEC §4) over an AsyncLimiter, with their headers.
/// Thread safety: immutable after construction; the limiter and the metrics are thread-safe,
/// so every method may be called from any event loop.
class RatePolicy {
public:
    /// `limiter` and `metrics` (may be null; counts every decision) are borrowed.
    RatePolicy(RateSettings settings, ratelimit::AsyncLimiter& limiter,
               metrics::DecisionMetrics* metrics = nullptr);

    /// Counts one token request for `ip`, then `user`, in one limiter call (one Redis round
    /// trip); a request refused by the address limit does not spend the user's allowance.
    boost::asio::awaitable<RateVerdict> limit_token(std::string user, std::string ip) const;

    /// The operator's extra per-client-IP limit on `path` (VOICEGATE_RATE_ROUTES), or nullptr.
    const ratelimit::Rate* route_rate(std::string_view path) const;

    /// Counts one request to `path` from `ip` against `rate` (from route_rate).
    boost::asio::awaitable<RateVerdict> limit_route(std::string path, ratelimit::Rate rate,
                                                    std::string ip) const;

private:
    void count(metrics::DecisionMetrics::Check check, const RateVerdict& verdict) const;

    RateSettings settings_;
    ratelimit::AsyncLimiter& limiter_;
    metrics::DecisionMetrics* metrics_;
};

}  // namespace voicegate::api
