#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

// Server-side WebSockets without Beast in sight: a route answers a request with
// `Action::upgrade` and a WebSocketHandler (message.hpp); the server (server.cpp,
// websocket_session.cpp) completes the handshake on the connection's loop and runs the handler
// with a WebSocket.

namespace voicegate::http {

/// One accepted WebSocket connection (text messages only), as its route sees it.
/// Thread safety: send(), close() and drop() may be called from any thread (they are carried
/// out on the connection's loop, in call order); receive() only from the handler's coroutine.
/// Every method is a harmless no-op once the connection has ended, so a registry may keep the
/// shared_ptr longer than the connection lives.
class WebSocket {
public:
    virtual ~WebSocket() = default;
    /// The next text message from the peer (binary ones are skipped); nullopt once the
    /// connection has ended: the peer closed, a close() handshake completed, drop(), an error.
    virtual boost::asio::awaitable<std::optional<std::string>> receive() = 0;
    /// Queues a text message; messages go out in order. Ignored after close() or drop().
    virtual void send(std::string text) = 0;
    /// Queues a close frame (`code`, `reason` of at most 123 bytes) after the messages queued
    /// before it; the first close() wins, later sends are ignored.
    virtual void close(std::uint16_t code, std::string reason) = 0;
    /// Ends the TCP connection at once, without a close frame (an emulated network failure).
    virtual void drop() = 0;
    /// The executor of the connection's loop (for the handler's own timers).
    virtual boost::asio::any_io_executor executor() const = 0;
};

/// What a route does with an accepted WebSocket. Runs on the connection's loop; when it returns
/// the server closes the connection (1000, unless close()/drop() said otherwise) and writes the
/// access-log line (status 101). It should return soon after receive() yields nullopt.
using WebSocketHandler = std::function<boost::asio::awaitable<void>(std::shared_ptr<WebSocket>)>;

}  // namespace voicegate::http
