#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/call_recorder.hpp"
#include "api/call_request.hpp"
#include "api/observer.hpp"
#include "api/quota_denials.hpp"
#include "api/rate_policy.hpp"
#include "api/session_issuer.hpp"
#include "auth/token_verifier.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"
#include "upstream/realtime_api.hpp"

namespace voicegate::api {

/// The key of the OpenAI-Safety-Identifier hash: VOICEGATE_SAFETY_ID_KEY, else derived from
/// the API key (HMAC-SHA256 of a fixed label under it, hex), so that identifiers are stable
/// per deployment without a setting and change when the key is rotated. Pure.
std::string safety_key_from(const config::UpstreamConfig& upstream);

/// The OpenAI-Safety-Identifier of `user_id`: HMAC-SHA256 under `key`, 64 hex characters;
/// stable per user, different between users, never the raw id. Pure.
std::string safety_identifier(const std::string& key, const std::string& user_id);

/// What the relay is configured with, and nothing else.
struct CallsSettings {
    config::TokenPolicy tokens;  // models, voices, profiles (with their media policy and cap)
    store::QuotaLimits quota;    // reserve_ms: the cap of a call whose profile sets none
    bool dev = false;            // VOICEGATE_DEV: error bodies carry details
    std::string safety_key;      // safety_key_from(): never logged
};

/// POST /api/realtime/calls (SPEC §7.1): the SDP relay. The app posts its offer with no
/// credential but its identity; voicegate checks it as /token would (identity, IP rules, rates,
/// quotas, profiles), records the session (its own `sess_` id), creates the call upstream with
/// the real key, records the call for supervision, and answers the SDP answer byte for byte.
/// The upstream call id stays on the server: never in an answer or a log line.
/// Thread safety: immutable after construction; safe to call from every event loop.
class CallsHandler {
public:
    /// `verifier` null: authentication is off (userId from the body or query). Every reference
    /// is borrowed and must outlive the handler; `observer` may be null.
    CallsHandler(CallsSettings settings, const auth::TokenVerifier* verifier,
                 const RatePolicy& rates, const QuotaDenials& quota_denials,
                 upstream::RealtimeApi& realtime, store::SessionStore& sessions,
                 CallRecorder& recorder, const Clock& clock, Observer* observer = nullptr);
    /// Answers one relay request.
    boost::asio::awaitable<http::Response> handle(http::Request& req) const;

private:
    // Creates the call upstream and records it; on any failure the session is released (and a
    // call already created hung up) before the failure is returned.
    boost::asio::awaitable<Result<upstream::CallAnswer>> connect(
        const http::Request& req, const CallParams& call, const store::AttachRequest& at) const;
    // Hangs up `call_id` (best effort) and releases the session: nobody will use either.
    boost::asio::awaitable<void> abandon(std::string session_id, std::string user,
                                         std::string call_id, std::string why) const;
    http::Response relayed(const http::Request& req, const upstream::CallAnswer& answer,
                           const CallParams& call, const store::AttachRequest& at,
                           const RateVerdict& limits) const;

    CallsSettings settings_;
    const auth::TokenVerifier* verifier_;
    upstream::RealtimeApi& realtime_;
    CallRecorder& recorder_;
    SessionIssuer issuer_;  // the steps shared with /token
};

}  // namespace voicegate::api
