#include "http/server.hpp"
#include "core/text.hpp"

#include <list>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "core/ids.hpp"
#include "http/access_log.hpp"

namespace voicegate::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (const char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok) {
            return false;
        }
    }
    return true;
}


// A connection registered with its loop so a drain can close it while it is idle.
struct Conn {
    beast::tcp_stream* stream = nullptr;
    bool idle = true;
};

struct Loop {
    asio::io_context* ctx = nullptr;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::list<Conn> conns;  // touched only on ctx's thread
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    ServerOptions opts;
    Handler handler;
    std::vector<std::unique_ptr<Loop>> loops;
    std::atomic<bool> draining{false};
    std::atomic<std::size_t> active{0};
    std::atomic<std::uint64_t> accepted{0};
    std::uint16_t bound_port = 0;

    asio::awaitable<void> accept_loop(Loop& loop);
    asio::awaitable<void> session(Loop& loop, tcp::socket socket);
    Request to_request(bhttp::request<bhttp::string_body>& msg, const std::string& peer) const;
    asio::awaitable<Response> call_handler(Request& req);
};

namespace {

tcp::endpoint resolve_listen(const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) {
        throw std::runtime_error("cannot listen on '" + host +
                                 "': not an IP address (use e.g. 127.0.0.1 or 0.0.0.0)");
    }
    return {addr, port};
}

std::unique_ptr<tcp::acceptor> open_acceptor(asio::io_context& ctx, const tcp::endpoint& ep) {
    auto acc = std::make_unique<tcp::acceptor>(ctx);
    boost::system::error_code ec;
    acc->open(ep.protocol(), ec);
    if (!ec) {
        acc->set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        const int one = 1;
        if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            ec.assign(errno, boost::system::system_category());
        }
    }
    if (!ec) {
        acc->bind(ep, ec);
    }
    if (!ec) {
        acc->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::runtime_error("cannot listen on " + ep.address().to_string() + ":" +
                                 std::to_string(ep.port()) + ": " + ec.message() +
                                 " (is another process using the port?)");
    }
    return acc;
}

}  // namespace

Server::Server(const std::vector<asio::io_context*>& loops, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>()) {
    impl_->opts = std::move(options);
    impl_->handler = std::move(handler);
    auto ep = resolve_listen(impl_->opts.host, impl_->opts.port);
    for (auto* ctx : loops) {
        auto loop = std::make_unique<Loop>();
        loop->ctx = ctx;
        loop->acceptor = open_acceptor(*ctx, ep);
        if (ep.port() == 0) {
            // Every other loop binds the port the first one got.
            ep.port(loop->acceptor->local_endpoint().port());
        }
        impl_->loops.push_back(std::move(loop));
    }
    impl_->bound_port = ep.port();
}

Server::~Server() = default;

std::uint16_t Server::port() const {
    return impl_->bound_port;
}

std::string Server::address() const {
    return impl_->opts.host + ":" + std::to_string(impl_->bound_port);
}

void Server::start() {
    for (auto& loop : impl_->loops) {
        asio::co_spawn(*loop->ctx, impl_->accept_loop(*loop), asio::detached);
    }
}

void Server::begin_drain() {
    impl_->draining = true;
    for (auto& loop : impl_->loops) {
        asio::post(*loop->ctx, [impl = impl_, l = loop.get()] {
            boost::system::error_code ec;
            l->acceptor->close(ec);
            for (auto& c : l->conns) {
                if (c.idle) {
                    c.stream->socket().shutdown(tcp::socket::shutdown_both, ec);
                    c.stream->cancel();
                }
            }
        });
    }
}

std::size_t Server::active_connections() const {
    return impl_->active.load();
}

std::uint64_t Server::connections_accepted() const {
    return impl_->accepted.load();
}

asio::awaitable<void> Server::Impl::accept_loop(Loop& loop) {
    auto self = shared_from_this();
    while (!draining) {
        auto [ec, socket] = co_await loop.acceptor->async_accept(kUseTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || draining) {
                break;
            }
            // EMFILE and friends: back off briefly instead of spinning.
            spdlog::warn("{}: accept failed: {}", opts.name, ec.message());
            asio::steady_timer t(*loop.ctx, std::chrono::milliseconds(50));
            co_await t.async_wait(kUseTuple);
            continue;
        }
        ++accepted;
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(*loop.ctx, session(loop, std::move(socket)), asio::detached);
    }
}

Request Server::Impl::to_request(bhttp::request<bhttp::string_body>& msg,
                                 const std::string& peer) const {
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    const auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) {
        req.query = req.target.substr(q + 1);
    }
    req.headers.reserve(16);
    for (const auto& f : msg) {
        req.headers.emplace_back(to_lower(f.name_string()), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    req.client_ip = peer;
    req.received_at_ms = now_ms();
    const auto incoming = req.header("x-request-id");
    if (opts.trust_request_id && incoming && sane_request_id(*incoming)) {
        req.request_id = std::string(*incoming);
    } else {
        req.request_id = random_hex("req_", 20);
    }
    return req;
}

asio::awaitable<Response> Server::Impl::call_handler(Request& req) {
    try {
        co_return co_await handler(req);
    } catch (const std::exception& e) {
        // A bug: log it with the request id, never put its text in the response.
        spdlog::error("{}: unhandled exception in request {} {}: {}", opts.name, req.request_id,
                      req.path, e.what());
    }
    Response r;
    r.status = 500;
    r.body = R"({"success":false,"error":"Internal server error.","code":"internal_error"})";
    r.log_error = "internal_error";
    co_return r;
}

namespace {

// Writes a minimal error for failures detected before a Request exists (limits, bad syntax).
asio::awaitable<void> write_early_error(beast::tcp_stream& stream, bhttp::status status,
                                        std::string_view code, std::string_view message,
                                        const std::string& request_id,
                                        std::chrono::milliseconds timeout) {
    bhttp::response<bhttp::string_body> res{status, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.set("X-Request-Id", request_id);
    res.keep_alive(false);
    res.body() = std::string(R"({"success":false,"error":")") + std::string(message) +
                 R"(","code":")" + std::string(code) + "\"}";
    res.prepare_payload();
    stream.expires_after(timeout);
    co_await bhttp::async_write(stream, res, kUseTuple);
}

}  // namespace

asio::awaitable<void> Server::Impl::session(Loop& loop, tcp::socket socket) {
    auto self = shared_from_this();
    ++active;
    std::string peer;
    {
        boost::system::error_code ec;
        auto ep = socket.remote_endpoint(ec);
        if (!ec) {
            auto addr = ep.address();
            if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
                addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
            }
            peer = addr.to_string();
        }
    }
    beast::tcp_stream stream(std::move(socket));
    loop.conns.push_back(Conn{&stream, true});
    auto me = std::prev(loop.conns.end());
    beast::flat_buffer buffer;
    bool first = true;

    for (;;) {
        if (draining) {
            break;
        }
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
        parser.body_limit(opts.body_limit);
        me->idle = true;
        stream.expires_after(first ? opts.request_timeout : opts.idle_timeout);
        auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
        me->idle = false;
        first = false;
        if (ec) {
            if (ec == bhttp::error::header_limit) {
                co_await write_early_error(stream, bhttp::status::request_header_fields_too_large,
                                           "headers_too_large", "Request headers are too large.",
                                           random_hex("req_", 20), opts.write_timeout);
            } else if (ec == bhttp::error::body_limit) {
                co_await write_early_error(stream, bhttp::status::payload_too_large,
                                           "payload_too_large", "The request body is too large.",
                                           random_hex("req_", 20), opts.write_timeout);
            } else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                       ec != asio::error::operation_aborted && ec != asio::error::eof &&
                       ec != asio::error::connection_reset && buffer.size() > 0) {
                co_await write_early_error(stream, bhttp::status::bad_request, "bad_request",
                                           "Malformed HTTP request.", random_hex("req_", 20),
                                           opts.write_timeout);
            }
            break;
        }
        // The whole request (headers and body) must arrive within request_timeout.
        stream.expires_after(opts.request_timeout);
        if (!parser.is_done()) {
            auto [ec2, n2] = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
            if (ec2) {
                if (ec2 == bhttp::error::body_limit) {
                    co_await write_early_error(stream, bhttp::status::payload_too_large,
                                               "payload_too_large",
                                               "The request body is too large.",
                                               random_hex("req_", 20), opts.write_timeout);
                }
                break;
            }
        }
        stream.expires_never();
        auto& msg = parser.get();
        const bool client_keep_alive = msg.keep_alive();
        Request req = to_request(msg, peer);
        const auto started = std::chrono::steady_clock::now();
        Response res = co_await call_handler(req);

        if (res.action == Action::reset) {
            boost::system::error_code ig;
            stream.socket().set_option(tcp::socket::linger(true, 0), ig);
            stream.socket().close(ig);
            break;
        }
        if (res.action == Action::hang) {
            me->idle = true;  // a drain may cut it
            stream.expires_after(opts.hang_limit);
            // Wait for the client to give up (read returns an error) or the hang limit.
            char byte = 0;
            co_await stream.async_read_some(asio::buffer(&byte, 1), kUseTuple);
            break;
        }

        bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), 11};
        out.set(bhttp::field::server, "voicegate");
        if (!res.content_type.empty()) {
            out.set(bhttp::field::content_type, res.content_type);
        }
        out.set("X-Request-Id", req.request_id);
        for (auto& [k, v] : res.headers) {
            out.insert(k, v);
        }
        out.body() = std::move(res.body);
        const bool keep = client_keep_alive && !res.close && !draining;
        out.keep_alive(keep);
        out.prepare_payload();
        stream.expires_after(opts.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(stream, out, kUseTuple);
        if (opts.access_log || opts.on_complete) {
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            res.status = static_cast<int>(out.result_int());
            if (opts.on_complete) {
                opts.on_complete(req, res.status, seconds);
            }
            if (opts.access_log) {
                log_access(opts.name, req, res, seconds * 1000.0);
            }
        }
        if (wec || !keep) {
            break;
        }
    }
    boost::system::error_code ig;
    stream.socket().shutdown(tcp::socket::shutdown_send, ig);
    stream.socket().close(ig);
    loop.conns.erase(me);
    --active;
}

}  // namespace voicegate::http
