#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "auth/jwks.hpp"
#include "auth/jwt_verifier.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "http/message.hpp"
#include "metrics/instruments.hpp"
#include "net/client_ip.hpp"
#include "ratelimit/async_limiter.hpp"
#include "ratelimit/memory_limiter.hpp"

namespace voicegate::api {

/// Fetches a JWKS document (JSON text) from a URL; injected so the gate stays free of I/O
/// types. Must be co_awaited on an event loop.
using JwksFetcher = std::function<boost::asio::awaitable<Result<std::string>>(const std::string&)>;

/// The identity and abuse-control checks in front of the handlers (SPEC §4): client IP behind
/// trusted proxies, IP allow/deny lists, JWT authentication (HS256 secret, RS256/ES256 from a
/// JWKS file or URL, refreshed on an unknown `kid` at most once per 30 s), admin identity, and
/// the per-user / per-IP token rate limits.
/// Thread safety: immutable after construction except the JWKS cache and the limiter, which
/// are thread-safe; every method may be called from any event loop.
class Gate {
public:
    /// Builds the gate; throws std::runtime_error with a clear message on a start-up problem
    /// (unreadable JWKS file, no usable key, ...). `limiter` is borrowed; so is `metrics`
    /// (may be null), which counts every limiter decision.
    Gate(const config::Config& config, const Clock& clock, ratelimit::AsyncLimiter& limiter,
         JwksFetcher fetch_jwks, metrics::DecisionMetrics* metrics = nullptr);

    /// Loads the JWKS from its URL (call once at start-up, on an event loop). Logs and keeps
    /// going on failure: tokens then fail until a refresh succeeds.
    boost::asio::awaitable<void> prime();

    /// Replaces req.client_ip with the resolved client address and refuses denied addresses
    /// (403 ip_denied). Pure apart from the request.
    Result<void> admit(http::Request& req) const;

    /// Authenticates the request when auth is on: the verified claims, or nullopt when auth is
    /// off; 401 (with WWW-Authenticate) for a missing, invalid or expired token.
    boost::asio::awaitable<Result<std::optional<auth::Claims>>> authenticate(
        const http::Request& req) const;

    /// Failed admin authentications counted per client address (IPv6: per /64), in this
    /// process: 10 back to back, then one more every 6 s.
    static constexpr ratelimit::Rate kAdminFailureRate{10, 60'000, 10};

    /// True if the request carries the admin token (constant-time) or an admin JWT; false if
    /// it does not, and then a request that presented some Authorization counts as a failed
    /// attempt of its client address. An address over kAdminFailureRate gets a 429
    /// `rate_limited` Failure with Retry-After before its credential is even compared.
    boost::asio::awaitable<Result<bool>> is_admin(const http::Request& req) const;

    /// Counts one token request for `ip`, then `user`, in one limiter call (one Redis round
    /// trip); a request refused by the address limit does not spend the user's allowance.
    /// On refusal a 429 Failure with Retry-After; when the limiter cannot decide (Redis
    /// unreachable, failing closed) a 503 `store_unavailable` with Retry-After. `headers`
    /// receives RateLimit-Policy / RateLimit for every enforced policy. The caller must
    /// co_await at once (the references must outlive the call).
    boost::asio::awaitable<Result<void>> limit_token(
        const std::string& user, const std::string& ip,
        std::vector<std::pair<std::string, std::string>>& headers) const;

    /// The operator's extra per-client-IP limit on `path` (VOICEGATE_RATE_ROUTES), or nullptr.
    const ratelimit::Rate* route_rate(std::string_view path) const;

    /// Counts one request to `path` from `ip` against `rate` (from route_rate). Same answers as
    /// limit_token: 429 with Retry-After, 503 when the limiter cannot decide; `headers`
    /// receives RateLimit-Policy / RateLimit. The caller must co_await at once (the references
    /// must outlive the call).
    boost::asio::awaitable<Result<void>> limit_route(
        const std::string& path, const ratelimit::Rate& rate, const std::string& ip,
        std::vector<std::pair<std::string, std::string>>& headers) const;

    bool auth_enabled() const { return verifier_.has_value(); }

    /// A quota refusal of `user` remembered by note_quota_denial() and still in force, so the
    /// token handler can refuse without minting a secret upstream first; its Retry-After is
    /// recomputed for now. Thread-safe.
    std::optional<Failure> recent_quota_denial(const std::string& user) const;
    /// Remembers that the store refused `user` with the quota Failure `f`, until
    /// min(f.resets_at, now + 5 s): the store stays the judge, this only spares upstream calls.
    /// Thread-safe.
    void note_quota_denial(const std::string& user, const Failure& f) const;
    /// Forgets `user`'s refusal (this process ended one of the user's sessions). Thread-safe.
    void forget_quota_denial(const std::string& user) const;

private:
    boost::asio::awaitable<void> refresh_jwks() const;
    void count(metrics::DecisionMetrics::Check check, metrics::DecisionMetrics::Outcome o) const {
        if (metrics_ != nullptr) {
            metrics_->limiter(check, o);
        }
    }

    const config::Config& config_;
    const Clock& clock_;
    ratelimit::AsyncLimiter& limiter_;
    JwksFetcher fetch_jwks_;
    metrics::DecisionMetrics* metrics_;
    net::CidrList trusted_;
    net::IpRules ip_rules_;
    ratelimit::Rate rate_user_;
    ratelimit::Rate rate_ip_;
    std::vector<std::pair<std::string, ratelimit::Rate>> route_rates_;
    std::unique_ptr<ratelimit::MemoryLimiter> admin_failures_;  // thread-safe
    std::unique_ptr<auth::JwksCache> jwks_;
    std::optional<auth::JwtVerifier> verifier_;

    struct QuotaDenial {
        std::int64_t until_ms = 0;
        Failure failure;
    };
    mutable std::mutex quota_mutex_;  // never held across a co_await
    mutable std::unordered_map<std::string, QuotaDenial> quota_denials_;
};

}  // namespace voicegate::api
