#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "upstream/http_client.hpp"

namespace voicegate::upstream {

// The sideband of a supervised call (SPEC §7.3): a WebSocket to the upstream that carries the
// call's server events and takes session updates. This file holds the provider-neutral
// transport; what is said on it is the supervisor's CallProtocol.

/// Where a sideband joins: the upstream origin, the request target (path and query, e.g.
/// `/v1/realtime?call_id=…`) and the API key sent as `Authorization: Bearer`. The target and
/// the key are secrets (the call id is one): never log them.
struct SidebandEndpoint {
    Origin origin;
    std::string target;
    std::string api_key;
};

/// Why a join failed. `gone`: the upgrade was answered 404 or 410 (the call is over or unknown,
/// reference §2.1); anything else (network, TLS, timeout, another status) may pass: retry.
struct JoinError {
    bool gone = false;
    int status = 0;      // the HTTP status of a declined upgrade; 0 if none came
    std::string detail;  // for logs: never the target, a header or a body
};

/// boost::system::result hook: reached only by a bug (value() on an error).
[[noreturn]] void throw_exception_from_error(const JoinError& e, const boost::source_location& loc);

/// What one read of a sideband gave.
struct SidebandMessage {
    enum class Kind {
        text,    // a text message (`text`)
        binary,  // a binary message (no use on a sideband; its bytes are dropped)
        closed,  // the peer closed with `close_code` (1000, 1001, ...) and `detail` its reason
        failed,  // the connection broke, timed out idle, or was aborted (`detail`)
    };
    Kind kind = Kind::failed;
    std::string text;
    int close_code = 0;
    std::string detail;  // closed: the peer's reason (at most 123 bytes); failed: for logs
};

/// One joined sideband. Not thread-safe: use it from the executor it was joined on, with at
/// most one read and one write in flight.
class SidebandSocket {
public:
    virtual ~SidebandSocket() = default;
    /// Reads the next message (or the end of the connection).
    virtual boost::asio::awaitable<SidebandMessage> read() = 0;
    /// Sends a text message; false when it could not be sent (the next read says why).
    virtual boost::asio::awaitable<bool> write(std::string text) = 0;
    /// Closes the connection at once, without a close handshake: a pending read ends `failed`.
    /// Idempotent; call from the socket's executor.
    virtual void abort() = 0;
    /// Starts the closing handshake: sends a close frame (1000). A pending read then ends
    /// `closed` once the peer answers (keep reading; abort() if it does not answer in time).
    /// May run while a read is pending, not with a write; once only.
    virtual boost::asio::awaitable<void> close() = 0;
};

/// Joins sidebands. Implementations are thread-safe.
class SidebandConnector {
public:
    using JoinResult = boost::system::result<std::unique_ptr<SidebandSocket>, JoinError>;
    virtual ~SidebandConnector() = default;
    /// Opens the sideband at `endpoint` on the calling coroutine's executor. Never throws for
    /// network failures.
    virtual boost::asio::awaitable<JoinResult> join(const SidebandEndpoint& endpoint) = 0;
};

/// Options of the WebSocket sideband.
struct SidebandOptions {
    std::chrono::milliseconds join_timeout{10'000};  // connect + TLS + upgrade
    std::chrono::milliseconds idle_timeout{30'000};  // no frame for this long: failed; a ping
                                                     // is sent at half of it
    std::size_t max_message = 1024 * 1024;           // larger messages fail the connection
    std::string user_agent = "voicegate";
};

/// The sideband over Boost.Beast WebSocket: `ws://` for an `http://` origin (the loopback
/// emulator), `wss://` over the connection HttpClient::connect() opens (its TLS context:
/// verification, SNI, host-name check). Sends `Authorization: Bearer KEY` and `User-Agent`, no
/// `OpenAI-Beta`; no compression. Idle connections are pinged; one silent past idle_timeout
/// fails. Thread-safe: join() from any loop; each socket then lives on its loop.
class WebSocketSidebandConnector final : public SidebandConnector {
public:
    /// `http` opens the connections (shared: the upstream client's, so one TLS context).
    WebSocketSidebandConnector(std::shared_ptr<HttpClient> http, SidebandOptions options);
    boost::asio::awaitable<JoinResult> join(const SidebandEndpoint& endpoint) override;

private:
    std::shared_ptr<HttpClient> http_;
    SidebandOptions options_;
};

}  // namespace voicegate::upstream
