#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/error.hpp"
#include "metrics/instruments.hpp"
#include "upstream/http_client.hpp"
#include "upstream/realtime_api.hpp"
#include "upstream/upstream_reply.hpp"

namespace voicegate::upstream {

/// Options of an OpenAiClient. `api_key` is a secret: never log or print these options whole.
struct OpenAiOptions {
    std::string api_key;
    std::string base_url = "https://api.openai.com/v1";  // or http://127.0.0.1:PORT/v1
    std::chrono::milliseconds connect_timeout{5'000};    // TCP connect + TLS handshake
    std::chrono::milliseconds total_timeout{30'000};     // per call, all retries included
    int max_retries = 2;                                 // retries after the first attempt
    std::size_t pool_size = 64;         // idle keep-alive connections kept per loop
    std::size_t max_connections = 256;  // open connections per loop; 0 = unlimited
    std::string ca_file;                // PEM trust anchors; empty = the system CAs
    std::string user_agent = "voicegate";
    std::chrono::milliseconds retry_base_delay{500};   // backoff: full jitter in [0, base*2^n]
    std::chrono::milliseconds retry_max_delay{8'000};  // cap of one backoff step
    int unavailable_retry_after_s = 2;            // Retry-After for 503s without an upstream hint
    metrics::UpstreamMetrics* metrics = nullptr;  // borrowed; must outlive the client
};

/// One call to the upstream API, relative to the base URL.
struct ApiRequest {
    std::string method = "POST";
    std::string path;  // after the base path, e.g. "/realtime/client_secrets"
    std::string content_type = "application/json";             // empty: no body header
    std::vector<std::pair<std::string, std::string>> headers;  // extra; Authorization is added
    std::string body;
    std::string request_id;  // our inbound request id, for logs only
    std::string operation;   // short name for logs, e.g. "client_secrets"
    /// False for a call that creates something upstream (a call): after the request may have
    /// reached the upstream whole, a lost answer is not retried (TransportError::sent).
    bool idempotent = true;
    /// Non-2xx statuses answered as values rather than mapped to a Failure (the caller maps
    /// them, e.g. 404 of a hang-up).
    std::vector<int> answer_statuses;
};

/// The OpenAI Realtime API over HTTPS (or plain HTTP to a loopback emulator): the GA
/// `POST /realtime/client_secrets` call, plus a generic request() for the other call paths
/// (SDP relay, hangup). Retries with exponential backoff and full jitter on connect errors,
/// resets, 408, 409, 429 and >= 500, honouring `x-should-retry`, `retry-after-ms` and
/// `retry-after` (ignored above 60 s), never sleeping past the call's total deadline;
/// `insufficient_quota` is never retried. Failures are mapped as SPEC §3.2 says and logged with
/// the upstream `x-request-id` and our request id, never with the key or a client secret.
/// Thread safety: all methods may be called concurrently from coroutines on every loop; the
/// client must outlive the calls in flight (build it in the composition root, destroy it after
/// the loops stop).
class OpenAiClient final : public RealtimeApi {
public:
    /// Builds the client and its own HttpClient with one pool per loop. Throws
    /// std::invalid_argument on an empty key or a bad base_url, std::runtime_error on an
    /// unloadable ca_file (startup failures).
    OpenAiClient(OpenAiOptions options, const std::vector<boost::asio::io_context*>& loops);
    /// Builds the client on a shared HttpClient (its pool/TLS options then apply; `options`'
    /// pool/TLS fields are ignored). Throws like the other constructor.
    OpenAiClient(OpenAiOptions options, std::shared_ptr<HttpClient> http);
    ~OpenAiClient() override;
    OpenAiClient(const OpenAiClient&) = delete;
    OpenAiClient& operator=(const OpenAiClient&) = delete;

    /// `POST {base}/realtime/client_secrets` with body
    /// `{"expires_after":{"anchor":"created_at","seconds":TTL},"session":SESSION}` and no
    /// `OpenAI-Beta` header; validates the answer (`value` "ek_...", integer `expires_at`,
    /// `session.id`) and takes `session.model` and `session.audio.output.voice`.
    boost::asio::awaitable<Result<ClientSecret>> create_client_secret(
        const ClientSecretRequest& request) override;

    /// `POST {base}/realtime/calls`, `multipart/form-data` with parts `sdp` and `session`,
    /// `OpenAI-Safety-Identifier` when given; answers the SDP answer and the call id (the last
    /// segment of `Location`, see parse_call_answer). Not idempotent (ApiRequest::idempotent):
    /// answered 429/5xx and failures before the request was written whole are retried as for
    /// client secrets; a connection lost after it was written is not (a second call could be
    /// created; the first, if any, never gets a peer and ends upstream on its own). A 201 that
    /// fails validation but names a call is hung up at once.
    boost::asio::awaitable<Result<CallAnswer>> create_call(const CallRequest& request) override;

    /// `POST {base}/realtime/calls/{call_id}/hangup` with no body; 2xx is success, 404 is
    /// Error::call_gone; retried as other calls (a repeated hang-up is harmless).
    boost::asio::awaitable<Result<void>> hangup(std::string call_id,
                                                std::string request_id) override;

    /// Sends one API call with `Authorization: Bearer KEY`, retrying as described above. A 2xx
    /// answer is a value (any body); anything else is a mapped Failure: 429 -> upstream_unavailable
    /// with retry_after_s (insufficient_quota -> upstream_rejected), other 4xx/5xx ->
    /// upstream_rejected, transport failures per TransportError::to_failure(). Public messages
    /// never carry upstream text; `details` do (with the key scrubbed).
    boost::asio::awaitable<Result<HttpResponse>> request(ApiRequest call);

    /// The HTTP client (connection counters for benchmarks and tests).
    HttpClient& http() { return *http_; }
    /// The HTTP client, to share its pools and TLS context (the sideband connector).
    std::shared_ptr<HttpClient> shared_http() const { return http_; }
    /// The parsed base URL.
    const BaseUrl& base() const { return base_; }

private:
    Failure scrub(Failure f) const;

    OpenAiOptions opts_;
    BaseUrl base_;
    std::shared_ptr<HttpClient> http_;
    std::string auth_header_;  // "Bearer KEY"
};

}  // namespace voicegate::upstream
