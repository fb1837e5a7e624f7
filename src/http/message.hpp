#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "http/websocket.hpp"

namespace voicegate::http {

/// Header fields in order, as (name, value) pairs.
using Headers = std::vector<std::pair<std::string, std::string>>;

/// A parsed HTTP request, independent of Beast so handlers and pure logic stay light.
/// Header names are stored lowercase.
struct Request {
    std::string method;  // "GET", "POST", ...
    std::string target;  // raw request target, e.g. "/api/admin/usage?from=..."
    std::string path;    // target without the query
    std::string query;   // after '?', without it
    Headers headers;
    std::string body;
    std::string client_ip;   // socket peer (or the resolved client IP once proxies are trusted)
    std::string request_id;  // assigned by the server
    std::int64_t received_at_ms = 0;
    std::size_t route = static_cast<std::size_t>(-1);  // metrics route index (Router)
    int connection_fd = -1;  // the client's socket (for client_gone), -1 when there is none

    /// The first header named `name` (lowercase), if any.
    std::optional<std::string_view> header(std::string_view name) const {
        for (const auto& [k, v] : headers) {
            if (k == name) {
                return std::string_view(v);
            }
        }
        return std::nullopt;
    }
};

/// What the server does with a Response; the emulator's fault injection uses the non-default
/// actions.
enum class Action {
    respond,  // write the response
    reset,    // abort the connection with a TCP RST, no response
    hang,     // never answer; keep the connection open until the client gives up
    drop,     // the client has gone: close without an answer (logged as 499)
    upgrade,  // accept a WebSocket upgrade and run Response::websocket (426 if not asked for)
};

/// An HTTP response produced by a handler.
struct Response {
    int status = 200;
    std::string content_type = "application/json";
    Headers headers;
    std::string body;
    Action action = Action::respond;
    bool close = false;      // send Connection: close and close after writing
    std::string log_user;    // user id for the access log (never a secret)
    std::string log_error;   // error code for the access log
    bool omit_body = false;  // HEAD: send the headers (Content-Length of the body), not the body
    /// Called (on the connection's loop) when the response could not be delivered: the client
    /// had closed its connection before it was written, or the write failed. The token handler
    /// uses it to release what it reserved for a client that never got its answer.
    std::function<boost::asio::awaitable<void>()> on_undelivered;
    /// Action::upgrade: runs on the accepted WebSocket; `headers` go into the 101 answer.
    WebSocketHandler websocket;

    /// Appends a header.
    void set(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
    }
};

/// Whether the client of `req` has closed its connection (its FIN or a reset has arrived and no
/// request bytes are pending). False when unknown (no socket). Non-blocking; defined in
/// server.cpp. A client that half-closes after sending its request counts as gone.
bool client_gone(const Request& req);

/// Whether `req` asks for a WebSocket upgrade: GET, `Connection: upgrade` (a token of it),
/// `Upgrade: websocket`. Pure; defined in websocket_session.cpp.
bool is_websocket_upgrade(const Request& req);

}  // namespace voicegate::http
