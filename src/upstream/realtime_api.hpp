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

/// The OpenAI Realtime API as voicegate uses it.
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
};

}  // namespace voicegate::upstream
