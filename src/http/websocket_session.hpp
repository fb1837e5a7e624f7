#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/message.hpp"

// The server's half of WebSocket support: the handshake and the running connection
// (websocket_session.cpp, the one translation unit with Beast's websocket headers). Internal to
// http/ (server.cpp).

namespace voicegate::http::detail {

/// Stops a running WebSocket from its loop: `abort` false queues a close 1001 (a drain), true
/// drops the connection (the drain deadline).
using WebSocketStop = std::function<void(bool abort)>;

/// The server's settings that a WebSocket uses.
struct WebSocketLimits {
    std::size_t max_message = 1 << 20;                    // bytes of one message
    std::chrono::milliseconds handshake_timeout{30'000};  // the upgrade, a close handshake
    std::chrono::milliseconds idle_timeout{75'000};       // a silent peer (pings at half)
    std::string name;                                     // the server's, for logs
};

/// Answers `msg` (whose route asked for Action::upgrade) on `stream`: 426 `upgrade_required`
/// unless it is a WebSocket upgrade, else the 101 handshake (with `res.headers` and
/// X-Request-Id), then runs `res.websocket` until it returns and the connection is closed.
/// `stop` is set while the WebSocket runs and cleared before returning; a `draining` server
/// closes a WebSocket accepted meanwhile at once (1001). Returns the status to
/// log: 101, 426, or 400 when the handshake failed; sets `res.log_error` on failures.
boost::asio::awaitable<int> serve_websocket(
    boost::beast::tcp_stream& stream,
    const boost::beast::http::request<boost::beast::http::string_body>& msg, const Request& req,
    Response& res, const WebSocketLimits& limits, WebSocketStop& stop,
    const std::atomic<bool>& draining);

}  // namespace voicegate::http::detail
