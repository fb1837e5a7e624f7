#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "api/gate.hpp"
#include "api/observer.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/log_throttle.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"
#include "upstream/realtime_api.hpp"

namespace voicegate::api {

/// The store's quota limits for the configured quotas (SPEC §4). Pure.
store::QuotaLimits quota_limits(const config::QuotaConfig& quota);

/// POST /api/realtime/token: validates the request, mints a client secret upstream, records
/// the session durably, and answers with the diary app's exact shape (SPEC §3.1).
/// Thread safety: immutable after construction; safe to call from every event loop.
class TokenHandler {
public:
    /// `observer` (may be null) is told every decision; it must outlive the handler.
    TokenHandler(const config::Config& config, const Gate& gate, upstream::RealtimeApi& realtime,
                 store::SessionStore& sessions, const Clock& clock, Observer* observer = nullptr);
    boost::asio::awaitable<http::Response> handle(http::Request& req) const;

private:
    boost::asio::awaitable<void> release_undelivered(std::string session_id, std::string user,
                                                     std::string request_id) const;
    boost::asio::awaitable<http::Response> deny(const http::Request& req, const Failure& failure,
                                                const std::string& user) const;

    const config::Config& config_;
    const Gate& gate_;
    upstream::RealtimeApi& realtime_;
    store::SessionStore& sessions_;
    const Clock& clock_;
    Observer* observer_;
    // After the store failed to record a session, token requests are refused with 503 for a
    // second without minting upstream secrets that could not be accounted for.
    mutable std::atomic<std::int64_t> store_down_until_ms_{0};
    mutable LogThrottle store_errors_{std::chrono::seconds(1)};
};

/// POST /api/realtime/end: records how a session ended, exactly once (SPEC §3.3).
/// Thread safety: immutable after construction; safe to call from every event loop.
class EndHandler {
public:
    /// `observer` (may be null) is told of every first end; it must outlive the handler.
    EndHandler(const config::Config& config, const Gate& gate, store::SessionStore& sessions,
               const Clock& clock, Observer* observer = nullptr);
    boost::asio::awaitable<http::Response> handle(http::Request& req) const;

private:
    const config::Config& config_;
    const Gate& gate_;
    store::SessionStore& sessions_;
    const Clock& clock_;
    Observer* observer_;
};

/// GET /api/realtime/options: the models, voices and limits the console offers, and
/// `realtimeCallsUrl`, where a browser posts its SDP offer (see realtime_calls_url). Pure.
http::Response options_response(const config::Config& config);

/// The upstream calls endpoint for browsers: `{OPENAI_BASE_URL}/realtime/calls`, or with the
/// in-process emulator `/v1/realtime/calls` on this service's own origin (App mounts the
/// emulator's route there, so a browser elsewhere on the network reaches it too). Pure.
std::string realtime_calls_url(const config::Config& config);

/// GET /healthz: the process is alive. Pure.
http::Response health_response();

/// GET /readyz: storage and configuration are ready (503 otherwise).
http::Response ready_response(const store::SessionStore& sessions);

/// GET of an embedded static asset (a directory such as `/` or `/dashboard` serves its
/// `index.html`); 404 if unknown. The page's CSP lets it connect to its own origin, OpenAI and the
/// origin of `upstream_base` (OPENAI_BASE_URL, when it is another one). Pure.
http::Response static_response(const http::Request& req, bool dev,
                               std::string_view upstream_base = {});

}  // namespace voicegate::api
