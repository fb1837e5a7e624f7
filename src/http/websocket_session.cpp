#include "http/websocket_session.hpp"

#include <algorithm>
#include <deque>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "core/text.hpp"

namespace voicegate::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using detail::WebSocketLimits;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Whether the comma-separated header value `list` holds `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        if (iequals(trim_view(list.substr(0, comma)), token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return false;
}

// The WebSocket of one upgraded connection. All state is touched on the connection's loop only;
// the public methods post there. Once end() ran (the session is over and `stream` is gone),
// everything is a no-op.
class ServerWebSocket final : public WebSocket,
                              public std::enable_shared_from_this<ServerWebSocket> {
public:
    ServerWebSocket(beast::tcp_stream& stream, std::size_t max_message)
        : ex_(stream.get_executor()), writer_idle_(ex_) {
        ws_.emplace(stream);
        ws_->read_message_max(max_message);
        ws_->text(true);
    }

    websocket::stream<beast::tcp_stream&>& ws() { return *ws_; }

    asio::awaitable<std::optional<std::string>> receive() override {
        while (!ended_ && ws_->is_open()) {
            beast::flat_buffer buffer;
            auto [ec, n] = co_await ws_->async_read(buffer, kUseTuple);
            if (ec) {
                break;
            }
            if (ws_->got_text()) {
                co_return beast::buffers_to_string(buffer.data());
            }
        }
        co_return std::nullopt;
    }

    void send(std::string text) override {
        asio::post(ex_, [self = shared_from_this(), t = std::move(text)]() mutable {
            self->queue_text(std::move(t));
        });
    }

    void close(std::uint16_t code, std::string reason) override {
        asio::post(ex_, [self = shared_from_this(), code, r = std::move(reason)]() mutable {
            self->queue_close(code, std::move(r));
        });
    }

    void drop() override {
        asio::post(ex_, [self = shared_from_this()] { self->drop_now(); });
    }

    asio::any_io_executor executor() const override { return ex_; }

    // ---- on the loop ----

    void queue_text(std::string text) {
        if (ended_ || close_queued_) {
            return;
        }
        queue_.push_back(std::move(text));
        pump();
    }

    void queue_close(std::uint16_t code, std::string reason) {
        if (ended_ || close_queued_) {
            return;
        }
        if (reason.size() > 123) {
            reason.resize(123);  // a close frame's payload is at most 125 bytes
        }
        close_queued_ = true;
        close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
        pump();
    }

    void drop_now() {
        if (ended_) {
            return;
        }
        queue_.clear();
        close_queued_ = true;
        boost::system::error_code ig;
        auto& sock = beast::get_lowest_layer(*ws_).socket();
        sock.shutdown(asio::ip::tcp::socket::shutdown_both, ig);
        sock.close(ig);
    }

    // Waits until queued messages and a queued close have gone out (or failed).
    asio::awaitable<void> settle() {
        while (writing_) {
            writer_idle_.expires_after(std::chrono::seconds(1));
            co_await writer_idle_.async_wait(kUseTuple);
        }
    }

    // The session is over: nothing may touch the stream any more.
    void end() {
        ended_ = true;
        queue_.clear();
        ws_.reset();
    }

private:
    void pump() {
        if (writing_) {
            return;
        }
        writing_ = true;
        asio::co_spawn(ex_, write_loop(shared_from_this()), asio::detached);
    }

    static asio::awaitable<void> write_loop(std::shared_ptr<ServerWebSocket> self) {
        while (!self->ended_ && self->ws_->is_open()) {
            if (!self->queue_.empty()) {
                const std::string text = std::move(self->queue_.front());
                self->queue_.pop_front();
                auto [ec, n] = co_await self->ws_->async_write(asio::buffer(text), kUseTuple);
                if (ec) {
                    break;
                }
                continue;
            }
            if (self->close_queued_ && self->close_reason_) {
                const auto reason = *self->close_reason_;
                self->close_reason_.reset();
                // Sends the close frame, then reads until the peer's close (or the handshake
                // timeout) and closes the TCP connection.
                co_await self->ws_->async_close(reason, kUseTuple);
            }
            break;
        }
        self->writing_ = false;
        self->writer_idle_.cancel();
    }

    asio::any_io_executor ex_;
    std::optional<websocket::stream<beast::tcp_stream&>> ws_;
    std::deque<std::string> queue_;
    std::optional<websocket::close_reason> close_reason_;
    asio::steady_timer writer_idle_;
    bool writing_ = false;
    bool close_queued_ = false;
    bool ended_ = false;
};

asio::awaitable<void> write_upgrade_required(beast::tcp_stream& stream, const Request& req,
                                             const WebSocketLimits& limits) {
    bhttp::response<bhttp::string_body> out{bhttp::status::upgrade_required, 11};
    out.set(bhttp::field::server, "voicegate");
    out.set(bhttp::field::content_type, "application/json");
    out.set(bhttp::field::upgrade, "websocket");
    out.set(bhttp::field::connection, "Upgrade, close");
    out.set("X-Request-Id", req.request_id);
    out.body() =
        R"({"success":false,"error":"This route takes a WebSocket upgrade.","code":"upgrade_required"})";
    out.prepare_payload();
    stream.expires_after(limits.handshake_timeout);
    co_await bhttp::async_write(stream, out, kUseTuple);
}

}  // namespace

bool is_websocket_upgrade(const Request& req) {
    const auto connection = req.header("connection");
    const auto upgrade = req.header("upgrade");
    return req.method == "GET" && connection && has_token(*connection, "upgrade") && upgrade &&
           has_token(*upgrade, "websocket");
}

namespace detail {

asio::awaitable<int> serve_websocket(beast::tcp_stream& stream,
                                     const bhttp::request<bhttp::string_body>& msg,
                                     const Request& req, Response& res,
                                     const WebSocketLimits& limits, WebSocketStop& stop,
                                     const std::atomic<bool>& draining) {
    if (!websocket::is_upgrade(msg) || !res.websocket) {
        res.log_error = "upgrade_required";
        co_await write_upgrade_required(stream, req, limits);
        co_return 426;
    }
    auto sock = std::make_shared<ServerWebSocket>(stream, limits.max_message);
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = limits.handshake_timeout;
    timeouts.idle_timeout = limits.idle_timeout;  // pings at half of it; a silent peer is cut
    timeouts.keep_alive_pings = true;
    sock->ws().set_option(timeouts);
    sock->ws().set_option(
        websocket::stream_base::decorator([&req, &res](websocket::response_type& out) {
            out.set(bhttp::field::server, "voicegate");
            out.set("X-Request-Id", req.request_id);
            for (const auto& [k, v] : res.headers) {
                out.insert(k, v);
            }
        }));
    stream.expires_never();  // the websocket's own timeouts apply from here
    auto [ec] = co_await sock->ws().async_accept(msg, kUseTuple);
    if (ec) {
        res.log_error = "websocket_handshake_failed";
        sock->end();
        co_return 400;
    }
    stop = [weak = std::weak_ptr<ServerWebSocket>(sock)](bool abort) {
        if (auto s = weak.lock()) {
            abort ? s->drop_now() : s->queue_close(1001, "server shutting down");
        }
    };
    if (draining) {
        stop(false);  // the drain began during the handshake, before `stop` could be called
    }
    try {
        co_await res.websocket(sock);
    } catch (const std::exception& e) {
        spdlog::error("{}: unhandled exception in WebSocket {} {}: {}", limits.name, req.request_id,
                      req.path, e.what());
        res.log_error = "internal_error";
        sock->queue_close(1011, "internal error");
    }
    sock->queue_close(1000, "");
    co_await sock->settle();
    stop = nullptr;
    sock->end();
    co_return 101;
}

}  // namespace detail
}  // namespace voicegate::http
