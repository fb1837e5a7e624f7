#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/error.hpp"

namespace voicegate::upstream {

/// What voicegate asks upstream for: `POST {base}/realtime/client_secrets` with body
/// `{"expires_after":{"anchor":"created_at","seconds":ttl_seconds},"session":session}`.
struct ClientSecretRequest {
    int ttl_seconds = 1800;
    boost::json::object session;  // already validated GA session object (type, model, ...)
    std::string request_id;       // the inbound request id, for logs only
};

/// The parts of the upstream answer voicegate uses (validated: all non-empty).
struct ClientSecret {
    std::string value;  // ek_...  (a secret: never log it whole)
    std::int64_t expires_at = 0;
    std::string session_id;  // sess_...
    std::string model;       // session.model
    std::string voice;       // session.audio.output.voice (may be empty if upstream omits it)
};

/// A call voicegate opens on the app's behalf with the server's key (SPEC §7.1 SDP relay).
struct CallRequest {
    std::string sdp;                // the app's SDP offer, sent byte for byte
    boost::json::object session;    // the session object /token sends to client_secrets
    std::string safety_identifier;  // keyed hash of the user id, never the raw id; may be empty
    std::string request_id;         // the inbound request id, for logs only
};

/// The upstream's answer to a relayed offer.
struct CallAnswer {
    std::string sdp;      // the SDP answer, byte for byte
    std::string call_id;  // the upstream's opaque call id: server-side only, never shown or logged
};

/// A realtime voice provider as voicegate uses it: client secrets for the token flow, calls
/// created server-side for the relay, and hang-up for the supervisor. OpenAI Realtime is one
/// implementation (upstream/openai_client.hpp); another provider's session API (e.g. GPT-Live's
/// `/live/sessions`) is another, mapping its own session ids onto `call_id`.
/// Implementations are thread-safe: methods may be called concurrently from every event loop.
/// Failures are values: upstream_rejected / upstream_bad_response (502), upstream_unavailable
/// (503, with retry_after_s), upstream_timeout (504); `details` may carry upstream text for dev
/// mode, `message` never does.
class RealtimeApi {
public:
    virtual ~RealtimeApi() = default;
    /// Mints a client secret.
    virtual boost::asio::awaitable<Result<ClientSecret>> create_client_secret(
        const ClientSecretRequest& request) = 0;
    /// Creates a call from the app's SDP offer and the session config; answers the SDP answer
    /// and the call id. Never sent twice once it may have reached the upstream (a second call
    /// would be created): only refusals the upstream answered (429, 5xx) and failures before
    /// the request was written are retried.
    virtual boost::asio::awaitable<Result<CallAnswer>> create_call(const CallRequest& request) = 0;
    /// Ends the call `call_id`. Success: the upstream begins terminating it. Error::call_gone
    /// (404) when the upstream no longer knows the call (already ended, or never existed):
    /// for an idempotent caller that is as good as success.
    virtual boost::asio::awaitable<Result<void>> hangup(std::string call_id,
                                                        std::string request_id) = 0;
};

}  // namespace voicegate::upstream
