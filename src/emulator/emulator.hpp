#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "emulator/options.hpp"
#include "http/message.hpp"
#include "http/server.hpp"

// The OpenAI Realtime stand-in of SPEC §8. Mount `Emulator::handler()` on an http::Server (its
// own, or as the fallback of a Router) and point OPENAI_BASE_URL at `http://HOST:PORT/v1`.
//
// OpenAI routes (answers shaped like the real API's: `{"error":{message,type,param,code}}`,
// `x-request-id: req_...`, `openai-processing-ms`, CORS for browsers):
//   POST /v1/realtime/client_secrets          mint an ek_ secret (body validated, validate.hpp)
//   POST /v1/realtime/calls                   SDP offer in, 201 + SDP answer + Location out
//                                             (Bearer ek_ + application/sdp, or API key +
//                                             multipart/form-data sdp[+session])
//   POST /v1/realtime/calls/{call_id}/hangup  200 for known calls (ends the call, closes its
//                                             sidebands 1000), 404 call_id_not_found
//   GET  /v1/realtime?call_id=                the sideband WebSocket (sideband.hpp): API key;
//                                             404 call_id_not_found for unknown/ended calls
//                                             (and ek_ keys, switchable)
//   POST /v1/realtime, /v1/realtime/sessions, /v1/realtime/transcription_sessions
//                                             400 beta_api_shape_disabled (retired beta)
//   anything else under any path              404 "Invalid URL (METHOD /path)"
// Control routes (not OpenAI's, no auth: bind the emulator to loopback):
//   GET /_emulator/stats                      counters, see EmulatorStats
//   GET /_emulator/faults                     current FaultSettings as JSON
//   POST /_emulator/faults                    merge a JSON object of settings, answer the result
//   DELETE /_emulator/faults                  clear every fault and latency
//   GET /_emulator/calls/{call_id}            the call's state (live, ended_by, sidebands, ...)
//   POST /_emulator/calls/{call_id}/session.update  the phone's session.update (JSON session)
//   POST /_emulator/calls/{call_id}/leave     the phone leaves: the call ends
//   POST /_emulator/calls/{call_id}/turn      one scripted conversation turn now

namespace voicegate::emulator {

/// A snapshot of the emulator's counters (also served as JSON at GET /_emulator/stats).
struct EmulatorStats {
    std::uint64_t connections_accepted = 0;  // from the counter set by set_connection_counter
    /// Requests per route: client_secrets, calls, hangup, beta, control, other.
    std::map<std::string, std::uint64_t> requests;
    std::uint64_t secrets_issued = 0;
    std::uint64_t secrets_active = 0;  // issued secrets still remembered (bounded, see options)
    std::uint64_t calls_created = 0;
    std::uint64_t calls_active = 0;  // created calls still remembered
    std::uint64_t calls_hung_up = 0;
    std::uint64_t sidebands_open = 0;           // sideband WebSockets connected now
    std::uint64_t sidebands_opened = 0;         // accepted since start
    std::uint64_t sideband_events_sent = 0;     // server events handed to sidebands
    std::uint64_t sideband_responses_sent = 0;  // of which response.done
    /// Injected faults per kind: latency, error, rate_limit, quota, malformed, reset, hang,
    /// sideband_refused, sideband_dropped.
    std::map<std::string, std::uint64_t> faults_injected;
};

/// The upstream emulator: a request handler that behaves like OpenAI's Realtime REST API.
/// Thread safety: handle() may run concurrently on any number of event loops; every other
/// method may be called from any thread. The Emulator must outlive the servers using it.
class Emulator {
public:
    /// An emulator on the system clock. `options` are validated by the caller (see
    /// parse_emulator_args); faults can be changed later with set_faults or /_emulator/faults.
    explicit Emulator(EmulatorOptions options);
    /// An emulator reading time from `clock` (secret expiry, expires_at); `clock` must outlive
    /// it.
    Emulator(EmulatorOptions options, const Clock& clock);
    ~Emulator();
    Emulator(const Emulator&) = delete;
    Emulator& operator=(const Emulator&) = delete;

    /// Answers one request. Sets `req.request_id` to a fresh `req_...` for OpenAI routes, so
    /// the http::Server sends it as X-Request-Id. Never blocks: injected latency waits on a
    /// timer of the calling coroutine's executor. Resets and hangs are returned as
    /// http::Action::reset / hang for the server to carry out.
    boost::asio::awaitable<http::Response> handle(http::Request& req);

    /// handle() as an http::Handler (captures `this`).
    http::Handler handler();

    /// Sets where `connections_accepted` comes from, e.g.
    /// `[&server] { return server.connections_accepted(); }`. Call it before serving or at any
    /// time; the function must be thread-safe.
    void set_connection_counter(std::function<std::uint64_t()> counter);

    /// The current fault settings.
    FaultSettings faults() const;
    /// Replaces the fault settings (takes effect for requests that start afterwards).
    void set_faults(const FaultSettings& faults);

    /// A snapshot of the counters.
    EmulatorStats stats() const;
    /// The same snapshot as the JSON of GET /_emulator/stats.
    boost::json::object stats_json() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace voicegate::emulator
