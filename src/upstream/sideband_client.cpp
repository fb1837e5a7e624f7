// The only translation unit of src/ that instantiates Beast's WebSocket stream (it compiles
// slowly): the sideband client, over a plain or TLS connection from HttpClient::connect().
#include "upstream/sideband_client.hpp"

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <openssl/ssl.h>

#include "upstream/connection.hpp"

namespace voicegate::upstream {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// A buffer grown past this by one large message (a session.updated with long instructions) is
// given back, so that an idle call stays small.
constexpr std::size_t kKeepBufferBytes = 16 * 1024;

JoinError join_error(int status, std::string detail) {
    JoinError e;
    e.gone = status == 404 || status == 410;
    e.status = status;
    e.detail = std::move(detail);
    return e;
}

template <class Next>
class BeastSidebandSocket final : public SidebandSocket {
public:
    BeastSidebandSocket(Next next, const SidebandOptions& options) : ws_(std::move(next)) {
        ws_.read_message_max(options.max_message);
        ws_.auto_fragment(false);
    }

    asio::awaitable<bool> handshake(const SidebandEndpoint& endpoint,
                                    const SidebandOptions& options, Clock::duration budget,
                                    JoinError& error) {
        websocket::stream_base::timeout t{};
        t.handshake_timeout = budget;
        t.idle_timeout = options.idle_timeout;
        t.keep_alive_pings = true;
        ws_.set_option(t);
        ws_.set_option(websocket::stream_base::decorator(
            [key = endpoint.api_key, ua = options.user_agent](websocket::request_type& req) {
                req.set(beast::http::field::authorization, "Bearer " + key);
                req.set(beast::http::field::user_agent, ua);
            }));
        websocket::response_type res;
        auto [ec] = co_await ws_.async_handshake(res, endpoint.origin.host_header, endpoint.target,
                                                 kUseTuple);
        if (!ec) {
            co_return true;
        }
        if (ec == websocket::error::upgrade_declined) {
            const int status = static_cast<int>(res.result_int());
            error =
                join_error(status, "sideband upgrade declined with HTTP " + std::to_string(status));
        } else if (ec == beast::error::timeout) {
            error = join_error(0, "sideband upgrade timed out");
        } else {
            error = join_error(0, "sideband upgrade failed: " + ec.message());
        }
        co_return false;
    }

    asio::awaitable<SidebandMessage> read() override {
        SidebandMessage m;
        if (aborted_) {
            m.detail = "aborted";
            co_return m;
        }
        buffer_.clear();
        auto [ec, n] = co_await ws_.async_read(buffer_, kUseTuple);
        if (ec == websocket::error::closed) {
            m.kind = SidebandMessage::Kind::closed;
            m.close_code = static_cast<int>(ws_.reason().code);
            m.detail = std::string(ws_.reason().reason.c_str()).substr(0, 123);
            co_return m;
        }
        if (ec) {
            m.detail = aborted_                      ? "aborted"
                       : ec == beast::error::timeout ? "idle timeout"
                                                     : "read failed: " + ec.message();
            co_return m;
        }
        m.kind = ws_.got_text() ? SidebandMessage::Kind::text : SidebandMessage::Kind::binary;
        if (m.kind == SidebandMessage::Kind::text) {
            m.text = beast::buffers_to_string(buffer_.data());
        }
        buffer_.consume(n);
        if (buffer_.capacity() > kKeepBufferBytes) {
            buffer_ = beast::flat_buffer();
        }
        co_return m;
    }

    asio::awaitable<bool> write(std::string text) override {
        if (aborted_) {
            co_return false;
        }
        ws_.text(true);
        auto [ec, n] = co_await ws_.async_write(asio::buffer(text), kUseTuple);
        co_return !ec;
    }

    void abort() override {
        aborted_ = true;
        beast::get_lowest_layer(ws_).close();
    }

    asio::awaitable<void> close() override {
        if (aborted_ || close_sent_) {
            co_return;
        }
        close_sent_ = true;
        auto [ec] = co_await ws_.async_close(websocket::close_code::normal, kUseTuple);
        if (ec) {
            abort();
        }
    }

private:
    websocket::stream<Next> ws_;
    beast::flat_buffer buffer_;
    bool aborted_ = false;
    bool close_sent_ = false;
};

template <class Next>
asio::awaitable<SidebandConnector::JoinResult> upgrade(Next next, const SidebandEndpoint& endpoint,
                                                       const SidebandOptions& options,
                                                       Clock::time_point deadline) {
    auto socket = std::make_unique<BeastSidebandSocket<Next>>(std::move(next), options);
    JoinError error;
    const auto budget =
        std::max<Clock::duration>(deadline - Clock::now(), std::chrono::milliseconds(1));
    if (!co_await socket->handshake(endpoint, options, budget, error)) {
        socket->abort();
        co_return error;
    }
    co_return std::unique_ptr<SidebandSocket>(std::move(socket));
}

}  // namespace

void throw_exception_from_error(const JoinError& e, const boost::source_location& /*loc*/) {
    throw std::logic_error("value() called on a failed sideband join: " + e.detail);
}

WebSocketSidebandConnector::WebSocketSidebandConnector(std::shared_ptr<HttpClient> http,
                                                       SidebandOptions options)
    : http_(std::move(http)), options_(std::move(options)) {
    if (!http_) {
        throw std::invalid_argument("WebSocketSidebandConnector needs an HttpClient");
    }
}

asio::awaitable<SidebandConnector::JoinResult> WebSocketSidebandConnector::join(
    const SidebandEndpoint& endpoint) {
    const auto deadline = Clock::now() + options_.join_timeout;
    auto http = http_;  // kept alive while joining
    auto conn = co_await http->connect(endpoint.origin, deadline);
    if (!conn) {
        co_return join_error(0, "sideband " + std::string(kind_name(conn.error().kind)) + ": " +
                                    conn.error().detail);
    }
    auto& c = **conn;
    // From here the WebSocket's own timeouts apply (Beast wants the stream's disabled).
    c.lowest().expires_never();
    if (c.tls) {
        // Idle sidebands are the rule: let OpenSSL free its buffers between records.
        SSL_set_mode(c.tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
        co_return co_await upgrade(std::move(*c.tls), endpoint, options_, deadline);
    }
    co_return co_await upgrade(std::move(*c.plain), endpoint, options_, deadline);
}

}  // namespace voicegate::upstream
