#include "http/server.hpp"

// GCC 12 at -O3 inlines Asio's coroutine-frame allocator (which recycles frames through its
// thread-local cache: operator new, then free of the same block) into accept_loop and reports a
// mismatched new/delete that is not one (a known false positive of GCC with coroutine frames).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "core/text.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <list>
#include <stdexcept>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "core/ids.hpp"
#include "core/log_throttle.hpp"
#include "http/access_log.hpp"
#include "http/request_reader.hpp"
#include "http/websocket_session.hpp"

namespace voicegate::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// A connection registered with its loop so a drain can close it while it is idle, and answer
// it with a 503 if its request is still in flight at the drain deadline.
struct Conn {
    enum class Phase { idle, reading, handling, writing, websocket };
    beast::tcp_stream* stream = nullptr;
    Phase phase = Phase::idle;
    bool answered = false;          // a 503 was sent for it at the drain deadline
    detail::WebSocketStop ws_stop;  // Phase::websocket: close 1001 (drain) or drop (deadline)
};

struct Loop {
    asio::io_context* ctx = nullptr;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::list<Conn> conns;  // touched only on ctx's thread
    int spare_fd = -1;      // held in reserve to answer clients when descriptors run out
    Loop() = default;
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    ~Loop() {
        if (spare_fd >= 0) {
            ::close(spare_fd);
        }
    }
};

// The answer to a connection accepted while the process is out of file descriptors.
constexpr std::string_view kOutOfDescriptorsAnswer =
    "HTTP/1.1 503 Service Unavailable\r\nServer: voicegate\r\nContent-Type: application/json\r\n"
    "Retry-After: 1\r\nConnection: close\r\nContent-Length: 91\r\n\r\n"
    R"({"success":false,"error":"The service is overloaded; try again later.","code":"overloaded"})";

// With every descriptor in use: frees the reserve, accepts one waiting connection on it, answers
// it 503 overloaded and closes it, then takes the reserve back. False if there was nothing to
// do it with (no reserve) or nobody waiting.
bool shed_one_connection(Loop& loop) {
    if (loop.spare_fd < 0) {
        loop.spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        return false;
    }
    ::close(loop.spare_fd);
    loop.spare_fd = -1;
    const int fd =
        ::accept4(loop.acceptor->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    const bool shed = fd >= 0;
    if (shed) {
        (void)::send(fd, kOutOfDescriptorsAnswer.data(), kOutOfDescriptorsAnswer.size(),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
    }
    loop.spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return shed;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    ServerOptions opts;
    Handler handler;
    std::vector<std::unique_ptr<Loop>> loops;
    std::atomic<bool> draining{false};
    std::atomic<std::size_t> active{0};
    std::atomic<std::uint64_t> accepted{0};
    std::uint16_t bound_port = 0;
    LogThrottle accept_failures{std::chrono::minutes(1)};

    asio::awaitable<void> accept_loop(Loop& loop);
    asio::awaitable<void> session(Loop& loop, tcp::socket socket);
    asio::awaitable<Response> call_handler(Request& req);
    void complete(const Request& req, Response& res, int status,
                  std::chrono::steady_clock::time_point started) const;
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
        loop->spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
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
                if (c.phase == Conn::Phase::idle) {
                    c.stream->socket().shutdown(tcp::socket::shutdown_both, ec);
                    c.stream->cancel();
                } else if (c.phase == Conn::Phase::websocket && c.ws_stop) {
                    c.ws_stop(false);
                }
            }
        });
    }
}

namespace {

// The 503 sent to a request still in flight at the drain deadline. Written with one
// non-blocking send(): it fits any socket buffer, and the session's own coroutine (suspended in
// its handler or its read) never writes after it.
constexpr std::string_view kShutdownAnswer =
    "HTTP/1.1 503 Service Unavailable\r\nServer: voicegate\r\nContent-Type: application/json\r\n"
    "Retry-After: 1\r\nConnection: close\r\nContent-Length: 87\r\n\r\n"
    R"({"success":false,"error":"The service is shutting down; retry.","code":"shutting_down"})";

}  // namespace

std::size_t Server::abort_in_flight() {
    std::atomic<std::size_t> answered{0};
    std::vector<std::future<void>> done;
    for (auto& loop : impl_->loops) {
        auto task = std::make_shared<std::packaged_task<void()>>([l = loop.get(), &answered] {
            for (auto& c : l->conns) {
                if (c.phase == Conn::Phase::websocket && c.ws_stop) {
                    c.ws_stop(true);  // its close 1001 went unanswered: cut it
                    continue;
                }
                if ((c.phase == Conn::Phase::reading || c.phase == Conn::Phase::handling) &&
                    !c.answered) {
                    c.answered = true;
                    const int fd = c.stream->socket().native_handle();
                    (void)::send(fd, kShutdownAnswer.data(), kShutdownAnswer.size(),
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                    boost::system::error_code ec;
                    c.stream->socket().shutdown(tcp::socket::shutdown_both, ec);
                    c.stream->cancel();
                    ++answered;
                }
            }
        });
        done.push_back(task->get_future());
        asio::post(*loop->ctx, [task] { (*task)(); });
    }
    for (auto& f : done) {
        // A loop that is not running (stopped or stuck) cannot be asked; do not wait forever.
        f.wait_for(std::chrono::seconds(1));
    }
    return answered.load();
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
            // Out of file descriptors: answer the waiting clients with a quick 503 through the
            // descriptor kept in reserve, rather than leave them to time out.
            const bool out_of_fds = ec == asio::error::no_descriptors || ec.value() == ENFILE;
            if (out_of_fds && shed_one_connection(loop)) {
                ++accepted;
                continue;
            }
            // Else back off briefly instead of spinning. Either way log at most one line a minute
            // (with how many failures it stands for), not 20 a second.
            if (auto held_back = accept_failures.admit()) {
                spdlog::warn(
                    "{}: accept failed: {} ({} similar failure(s) since the last report; "
                    "raise the open-files limit, `ulimit -n`)",
                    opts.name, ec.message(), *held_back);
            }
            asio::steady_timer t(*loop.ctx, std::chrono::milliseconds(50));
            co_await t.async_wait(kUseTuple);
            continue;
        }
        ++accepted;
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(*loop.ctx, session(loop, std::move(socket)), asio::detached);
    }
}

// The end of one exchange (a WebSocket's included): metrics and the access-log line.
void Server::Impl::complete(const Request& req, Response& res, int status,
                            std::chrono::steady_clock::time_point started) const {
    if (opts.access_log || opts.on_complete) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        res.status = status;
        if (opts.on_complete) {
            opts.on_complete(req, res.status, seconds);
        }
        if (opts.access_log) {
            log_access(opts.name, req, res, seconds * 1000.0);
        }
    }
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

namespace {

// Keeps a connection's registration and the open-connection count right however the session
// ends (an exception included).
struct ConnRegistration {
    Loop& loop;
    std::list<Conn>::iterator it;
    std::atomic<std::size_t>& active;
    ConnRegistration(Loop& l, beast::tcp_stream& stream, std::atomic<std::size_t>& a)
        : loop(l), active(a) {
        loop.conns.push_back(Conn{&stream, Conn::Phase::idle, false, {}});
        it = std::prev(loop.conns.end());
        ++active;
    }
    ~ConnRegistration() {
        loop.conns.erase(it);
        --active;
    }
    ConnRegistration(const ConnRegistration&) = delete;
    ConnRegistration& operator=(const ConnRegistration&) = delete;
};

// Tells the client why its request could not be read, when someone is left to tell.
asio::awaitable<void> answer_read_failure(beast::tcp_stream& stream, ReadResult r,
                                          std::chrono::milliseconds timeout) {
    if (auto e = early_error_for(r)) {
        co_await write_early_error(stream, e->status, e->code, e->message, random_hex("req_", 20),
                                   timeout);
    }
}

// The time limit of reading one request. Beast's tcp_stream closes the socket when its own
// deadline passes, which would leave no way to answer 408; this timer only cancels the pending
// read, so the session can still tell the client why.
class ReadDeadline {
public:
    explicit ReadDeadline(beast::tcp_stream& stream)
        : state_(std::make_shared<State>(stream.get_executor())) {
        state_->stream = &stream;
    }
    ~ReadDeadline() {
        state_->stream = nullptr;
        state_->armed = false;
        state_->timer.cancel();
    }
    ReadDeadline(const ReadDeadline&) = delete;
    ReadDeadline& operator=(const ReadDeadline&) = delete;

    void arm(std::chrono::milliseconds limit) {
        state_->passed = false;
        state_->armed = true;
        const auto gen = ++state_->generation;
        state_->timer.expires_after(limit);
        state_->timer.async_wait([s = state_, gen](const boost::system::error_code& ec) {
            if (!ec && s->armed && s->generation == gen && s->stream != nullptr) {
                s->passed = true;
                boost::system::error_code ig;
                s->stream->socket().cancel(ig);
            }
        });
    }
    void disarm() {
        state_->armed = false;
        state_->timer.cancel();
    }
    const bool* passed() const { return &state_->passed; }

private:
    struct State {
        explicit State(const asio::any_io_executor& ex) : timer(ex) {}
        asio::steady_timer timer;
        beast::tcp_stream* stream = nullptr;
        std::uint64_t generation = 0;
        bool armed = false;
        bool passed = false;
    };
    std::shared_ptr<State> state_;
};

// Reads the header (or the rest) of a request within the armed deadline. On failure answers the
// client (unless a drain already did), disarms the deadline and returns false.
asio::awaitable<bool> read_phase(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                 bhttp::request_parser<bhttp::string_body>& parser,
                                 bool header_only, Conn& me, ReadDeadline& deadline,
                                 const ServerOptions& opts) {
    const auto got = co_await read_request(stream, buffer, parser, header_only, opts.header_limit,
                                           deadline.passed());
    if (got == ReadResult::ok && !me.answered) {
        co_return true;
    }
    deadline.disarm();
    if (!me.answered) {
        me.phase = Conn::Phase::writing;
        co_await answer_read_failure(stream, got, opts.write_timeout);
    }
    co_return false;
}

bool wants_continue(const bhttp::request<bhttp::string_body>& msg) {
    const auto it = msg.find(bhttp::field::expect);
    return it != msg.end() && msg.version() >= 11 &&
           iequals(trim_view(it->value()), "100-continue");
}

bool fd_peer_gone(int fd) {
    if (fd < 0) {
        return false;
    }
    char byte = 0;
    const auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
        return true;  // FIN: the client closed (at least its sending side)
    }
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace

bool client_gone(const Request& req) {
    return fd_peer_gone(req.connection_fd);
}

asio::awaitable<void> Server::Impl::session(Loop& loop, tcp::socket socket) {
    auto self = shared_from_this();
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
    ConnRegistration reg(loop, stream, active);
    auto& me = *reg.it;
    beast::flat_buffer buffer;
    ReadDeadline deadline(stream);
    bool first = true;

    while (!draining) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
        parser.body_limit(opts.body_limit);
        if (!first && buffer.size() == 0) {
            // Between requests the connection may idle for idle_timeout; the next request's
            // request_timeout runs from its first byte (a header dripped slowly is cut then).
            me.phase = Conn::Phase::idle;
            stream.expires_after(opts.idle_timeout);
            // Sized as Beast sizes its reads (512 bytes for an empty buffer): an idle
            // connection must not cost a larger buffer (10,000 of them are a SPEC bar).
            auto [ec, n] = co_await stream.async_read_some(
                buffer.prepare(beast::read_size(buffer, 65536)), kUseTuple);
            buffer.commit(n);
            if (ec || draining || me.answered) {
                break;
            }
        }
        // The whole request (headers and body) must arrive within request_timeout: from the
        // connection's start for the first, from its first byte for the next ones.
        first = false;
        me.phase = Conn::Phase::reading;
        stream.expires_never();
        deadline.arm(opts.request_timeout);
        if (!co_await read_phase(stream, buffer, parser, true, me, deadline, opts)) {
            break;
        }
        auto& msg = parser.get();
        if (msg.version() >= 11 && msg.find(bhttp::field::host) == msg.end()) {
            deadline.disarm();
            me.phase = Conn::Phase::writing;  // RFC 9112 §3.2: HTTP/1.1 requires Host
            co_await answer_read_failure(stream, ReadResult::bad_request, opts.write_timeout);
            break;
        }
        if (!parser.is_done()) {
            if (wants_continue(msg)) {
                static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
                me.phase = Conn::Phase::writing;
                auto [wec, wn] =
                    co_await asio::async_write(stream, asio::buffer(kContinue), kUseTuple);
                me.phase = Conn::Phase::reading;
                if (wec || me.answered) {
                    break;
                }
            }
            if (!co_await read_phase(stream, buffer, parser, false, me, deadline, opts)) {
                break;
            }
        }
        deadline.disarm();
        stream.expires_never();
        const bool client_keep_alive = msg.keep_alive();
        const bool http10 = msg.version() < 11;
        Request req = to_request(msg, peer, opts.trust_request_id);
        req.connection_fd = stream.socket().native_handle();
        const auto started = std::chrono::steady_clock::now();
        me.phase = Conn::Phase::handling;
        Response res = co_await call_handler(req);
        if (me.answered) {
            // The drain deadline passed while the handler ran: the client got a 503.
            if (res.on_undelivered) {
                co_await res.on_undelivered();
            }
            break;
        }
        me.phase = Conn::Phase::writing;
        if (res.action == Action::upgrade && draining) {
            res = Response{};
            res.status = 503;
            res.body = R"({"success":false,"error":"The service is shutting down; retry.",)"
                       R"("code":"shutting_down"})";
            res.close = true;
        }
        if (res.action == Action::upgrade) {
            me.phase = Conn::Phase::websocket;
            const detail::WebSocketLimits limits{std::max<std::size_t>(opts.body_limit, 1 << 20),
                                                 opts.write_timeout, opts.idle_timeout, opts.name};
            const int status = co_await detail::serve_websocket(stream, msg, req, res, limits,
                                                                me.ws_stop, draining);
            complete(req, res, status, started);
            break;
        }

        if (res.action == Action::reset) {
            boost::system::error_code ig;
            stream.socket().set_option(tcp::socket::linger(true, 0), ig);
            stream.socket().close(ig);
            break;
        }
        if (res.action == Action::hang) {
            me.phase = Conn::Phase::idle;  // a drain may cut it
            stream.expires_after(opts.hang_limit);
            // Wait for the client to give up (read returns an error) or the hang limit.
            char byte = 0;
            co_await stream.async_read_some(asio::buffer(&byte, 1), kUseTuple);
            break;
        }

        // A client that closed while its request was handled never gets the answer: say so in
        // the log (499, as nginx does) and let the handler release what it reserved.
        bool delivered = res.action != Action::drop && !fd_peer_gone(req.connection_fd);
        bool keep = false;
        int status = 499;
        if (delivered) {
            bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), 11};
            out.set(bhttp::field::server, "voicegate");
            if (!res.content_type.empty()) {
                out.set(bhttp::field::content_type, res.content_type);
            }
            out.set("X-Request-Id", req.request_id);
            for (auto& [k, v] : res.headers) {
                out.insert(k, v);
            }
            keep = client_keep_alive && !res.close && !draining;
            out.keep_alive(keep);
            if (keep && http10) {
                out.set(bhttp::field::connection, "keep-alive");
            }
            stream.expires_after(opts.write_timeout);
            boost::system::error_code wec;
            if (res.omit_body) {
                out.content_length(res.body.size());
                bhttp::response_serializer<bhttp::string_body> sr{out};
                std::tie(wec, std::ignore) =
                    co_await bhttp::async_write_header(stream, sr, kUseTuple);
            } else {
                out.body() = std::move(res.body);
                out.prepare_payload();
                std::tie(wec, std::ignore) = co_await bhttp::async_write(stream, out, kUseTuple);
            }
            status = static_cast<int>(out.result_int());
            if (wec) {
                delivered = false;
                status = 499;
                keep = false;
            }
        }
        if (!delivered) {
            res.log_error = "client_closed";
            if (res.on_undelivered) {
                co_await res.on_undelivered();
            }
        }
        complete(req, res, status, started);
        if (!keep) {
            break;
        }
    }
    boost::system::error_code ig;
    stream.socket().shutdown(tcp::socket::shutdown_send, ig);
    stream.socket().close(ig);
}

}  // namespace voicegate::http
