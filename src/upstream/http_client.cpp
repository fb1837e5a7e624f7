#include "upstream/http_client.hpp"

#include "core/text.hpp"
#include "upstream/connection.hpp"

#include <algorithm>
#include <cerrno>
#include <deque>
#include <stdexcept>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

namespace voicegate::upstream {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);


bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

TransportError transport_error(TransportErrorKind kind, boost::system::error_code ec,
                               std::string detail) {
    TransportError e;
    e.kind = kind;
    e.ec = ec;
    e.detail = std::move(detail);
    return e;
}

}  // namespace

// ---- URL helpers --------------------------------------------------------------------------

Result<BaseUrl> parse_base_url(std::string_view url) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) {
        return fail(Error::bad_request, "upstream base URL is not an absolute URL");
    }
    const auto& u = *parsed;
    BaseUrl out;
    const auto scheme = to_lower(u.scheme());
    if (scheme == "https") {
        out.origin.tls = true;
    } else if (scheme == "http") {
        out.origin.tls = false;
    } else {
        return fail(Error::bad_request, "upstream base URL must start with http:// or https://");
    }
    if (u.has_userinfo() || u.has_query() || u.has_fragment()) {
        return fail(Error::bad_request,
                    "upstream base URL must not carry user info, a query or a fragment");
    }
    if (u.host_type() == boost::urls::host_type::none || u.encoded_host().empty()) {
        return fail(Error::bad_request, "upstream base URL has no host");
    }
    if (u.host_type() == boost::urls::host_type::ipv6) {
        out.origin.host = std::string(u.host_address());
    } else {
        out.origin.host = to_lower(u.host());
    }
    std::uint16_t default_port = out.origin.tls ? 443 : 80;
    out.origin.port = default_port;
    if (u.has_port()) {
        const auto p = u.port_number();
        if (p == 0) {
            return fail(Error::bad_request, "upstream base URL has an invalid port");
        }
        out.origin.port = p;
    }
    const bool v6 = u.host_type() == boost::urls::host_type::ipv6;
    std::string host_for_header = v6 ? "[" + out.origin.host + "]" : out.origin.host;
    out.origin.host_header = out.origin.port == default_port
                                 ? host_for_header
                                 : host_for_header + ":" + std::to_string(out.origin.port);
    out.origin.key = scheme + "://" + host_for_header + ":" + std::to_string(out.origin.port);
    std::string path(u.encoded_path());
    while (!path.empty() && path.back() == '/') {
        path.pop_back();
    }
    out.path = std::move(path);
    return out;
}

bool is_loopback_host(std::string_view host) {
    std::string h = to_lower(host);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
        h = h.substr(1, h.size() - 2);
    }
    if (h == "localhost" || h == "localhost.") {
        return true;
    }
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(h, ec);
    if (ec) {
        return false;
    }
    if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
        return asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).is_loopback();
    }
    return addr.is_loopback();
}

// ---- TransportError -----------------------------------------------------------------------

std::string_view kind_name(TransportErrorKind kind) {
    switch (kind) {
        case TransportErrorKind::resolve:
            return "resolve";
        case TransportErrorKind::connect:
            return "connect";
        case TransportErrorKind::connect_timeout:
            return "connect_timeout";
        case TransportErrorKind::tls_handshake:
            return "tls_handshake";
        case TransportErrorKind::tls_verify:
            return "tls_verify";
        case TransportErrorKind::connection_lost:
            return "connection_lost";
        case TransportErrorKind::truncated:
            return "truncated";
        case TransportErrorKind::protocol:
            return "protocol";
        case TransportErrorKind::too_large:
            return "too_large";
        case TransportErrorKind::timeout:
            return "timeout";
    }
    return "other";
}

bool TransportError::retryable() const {
    switch (kind) {
        case TransportErrorKind::resolve:
        case TransportErrorKind::connect:
        case TransportErrorKind::connect_timeout:
        case TransportErrorKind::tls_handshake:
        case TransportErrorKind::connection_lost:
        case TransportErrorKind::truncated:
            return true;
        case TransportErrorKind::tls_verify:
        case TransportErrorKind::protocol:
        case TransportErrorKind::too_large:
        case TransportErrorKind::timeout:
            return false;
    }
    return false;
}

Failure TransportError::to_failure() const {
    switch (kind) {
        case TransportErrorKind::timeout:
            return fail(Error::upstream_timeout, {}, detail);
        case TransportErrorKind::protocol:
        case TransportErrorKind::truncated:
        case TransportErrorKind::too_large:
            return fail(Error::upstream_bad_response, {}, detail);
        default:
            return fail(Error::upstream_unavailable, {}, detail);
    }
}

void throw_exception_from_error(const TransportError& e, const boost::source_location& /*loc*/) {
    throw std::logic_error("value() called on a failed HttpResult: " + e.detail);
}

// ---- Connection -----------------------------------------------------------------------------

void Connection::close() {
    boost::system::error_code ig;
    auto& s = lowest().socket();
    s.shutdown(tcp::socket::shutdown_both, ig);
    s.close(ig);
}

bool Connection::looks_alive() {
    auto& s = lowest().socket();
    if (!s.is_open()) {
        return false;
    }
    char byte = 0;
    const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
        return false;
    }
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    return tls != nullptr;
}

// ---- Connections and pools ------------------------------------------------------------------

namespace {

using TlsStream = Connection::TlsStream;

using ConnectionPtr = std::unique_ptr<Connection>;

// A coroutine waiting for a connection slot (max_connections reached).
struct Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    bool woken = false;
    bool abandoned = false;
};

struct OriginPool {
    std::vector<ConnectionPtr> idle;  // LIFO: the most recently used is the most likely alive
    std::size_t open = 0;             // idle + in use + connecting
    std::deque<std::shared_ptr<Waiter>> waiters;
};

// The pools of one event loop; touched only from that loop's thread.
struct LoopPool {
    asio::io_context* ctx = nullptr;
    std::unordered_map<std::string, OriginPool> origins;
};

struct Lease {
    ConnectionPtr conn;
    bool reused = false;
};

using LeaseResult = boost::system::result<Lease, TransportError>;

struct Exchange {
    boost::system::error_code ec;
    bool written = false;    // the whole request was written
    bool got_bytes = false;  // some response bytes arrived
    bhttp::response<bhttp::string_body> response;
};

struct ResolveState {
    explicit ResolveState(const asio::any_io_executor& ex) : resolver(ex), done(ex) {}
    tcp::resolver resolver;
    asio::steady_timer done;  // cancelled when the resolution completes
    boost::system::error_code ec;
    tcp::resolver::results_type results;
    bool finished = false;
};

// Runs detached so that a slow getaddrinfo (which Asio cannot interrupt) never holds a request
// past its deadline: the waiting request gives up on its timer, this finishes in the background.
asio::awaitable<void> resolve_into(std::shared_ptr<ResolveState> st, std::string host,
                                   std::string port) {
    auto [ec, results] =
        co_await st->resolver.async_resolve(host, port, tcp::resolver::numeric_service, kUseTuple);
    st->ec = ec;
    st->results = std::move(results);
    st->finished = true;
    st->done.cancel();
}

std::string ssl_error_text(const boost::system::error_code& ec) {
    return ec.message();
}

}  // namespace

struct HttpClient::Impl {
    HttpClientOptions opts;
    ssl::context tls_ctx{ssl::context::tls_client};
    std::vector<std::unique_ptr<LoopPool>> pools;
    std::atomic<std::uint64_t> opened{0};
    std::atomic<std::uint64_t> handshakes{0};

    LoopPool* find_pool(const asio::execution_context& ctx) const {
        for (const auto& p : pools) {
            if (static_cast<const asio::execution_context*>(p->ctx) == &ctx) {
                return p.get();
            }
        }
        return nullptr;
    }

    asio::awaitable<LeaseResult> acquire(LoopPool* pool, const Origin& origin,
                                         Clock::time_point deadline, bool allow_reuse);
    asio::awaitable<boost::system::result<ConnectionPtr, TransportError>> connect(
        const Origin& origin, Clock::time_point deadline, asio::any_io_executor ex);
    void release(LoopPool* pool, const Origin& origin, ConnectionPtr conn, bool reusable);
    static void notify_one(OriginPool& op);
};

void HttpClient::Impl::notify_one(OriginPool& op) {
    while (!op.waiters.empty()) {
        auto w = std::move(op.waiters.front());
        op.waiters.pop_front();
        if (!w->abandoned) {
            w->woken = true;
            w->timer.cancel();
            return;
        }
    }
}

void HttpClient::Impl::release(LoopPool* pool, const Origin& origin, ConnectionPtr conn,
                               bool reusable) {
    if (pool == nullptr) {
        conn->close();
        return;
    }
    auto& op = pool->origins[origin.key];
    if (reusable && op.idle.size() < opts.pool_size) {
        conn->lowest().expires_never();
        conn->buffer.clear();
        conn->idle_since = Clock::now();
        op.idle.push_back(std::move(conn));
    } else {
        conn->close();
        if (op.open > 0) {
            --op.open;
        }
    }
    notify_one(op);
}

asio::awaitable<boost::system::result<ConnectionPtr, TransportError>> HttpClient::Impl::connect(
    const Origin& origin, Clock::time_point deadline, asio::any_io_executor ex) {
    const auto connect_deadline = std::min(deadline, Clock::now() + opts.connect_timeout);
    const bool deadline_bound = connect_deadline == deadline;
    const auto where = origin.host + ":" + std::to_string(origin.port);
    auto timed_out = [&](const std::string& what) {
        return deadline_bound
                   ? transport_error(TransportErrorKind::timeout, beast::error::timeout,
                                     "deadline passed during " + what + " to " + where)
                   : transport_error(TransportErrorKind::connect_timeout, beast::error::timeout,
                                     what + " to " + where + " timed out");
    };

    // Resolve (numeric hosts skip the resolver).
    tcp::resolver::results_type endpoints;
    boost::system::error_code aec;
    const auto addr = asio::ip::make_address(origin.host, aec);
    if (!aec) {
        endpoints = tcp::resolver::results_type::create(tcp::endpoint(addr, origin.port),
                                                        origin.host, std::to_string(origin.port));
    } else {
        auto st = std::make_shared<ResolveState>(ex);
        st->done.expires_at(connect_deadline);
        asio::co_spawn(ex, resolve_into(st, origin.host, std::to_string(origin.port)),
                       asio::detached);
        co_await st->done.async_wait(kUseTuple);
        if (!st->finished) {
            st->resolver.cancel();
            co_return timed_out("name resolution");
        }
        if (st->ec) {
            co_return transport_error(TransportErrorKind::resolve, st->ec,
                                      "cannot resolve " + origin.host + ": " + st->ec.message());
        }
        endpoints = std::move(st->results);
    }

    auto conn = std::make_unique<Connection>();
    if (origin.tls) {
        conn->tls = std::make_unique<TlsStream>(ex, tls_ctx);
    } else {
        conn->plain = std::make_unique<beast::tcp_stream>(ex);
    }
    auto& lowest = conn->lowest();
    lowest.expires_at(connect_deadline);
    auto [cec, ep] = co_await lowest.async_connect(endpoints, kUseTuple);
    if (cec) {
        if (cec == beast::error::timeout || Clock::now() >= connect_deadline) {
            co_return timed_out("connect");
        }
        co_return transport_error(TransportErrorKind::connect, cec,
                                  "connect to " + where + " failed: " + cec.message());
    }
    ++opened;
    boost::system::error_code ig;
    lowest.socket().set_option(tcp::no_delay(true), ig);

    if (origin.tls) {
        SSL* ssl_handle = conn->tls->native_handle();
        if (is_ip_literal(origin.host)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), origin.host.c_str());
        } else {
            // SNI (RFC 6066 forbids IP literals there) and RFC 6125 host-name verification.
            SSL_set_tlsext_host_name(ssl_handle, origin.host.c_str());
            SSL_set1_host(ssl_handle, origin.host.c_str());
        }
        ++handshakes;
        auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kUseTuple);
        if (hec) {
            const long verify = SSL_get_verify_result(ssl_handle);
            if (verify != X509_V_OK) {
                co_return transport_error(TransportErrorKind::tls_verify, hec,
                                          "TLS certificate verification failed for " + where +
                                              ": " + X509_verify_cert_error_string(verify));
            }
            if (hec == beast::error::timeout || Clock::now() >= connect_deadline) {
                co_return timed_out("TLS handshake");
            }
            co_return transport_error(
                TransportErrorKind::tls_handshake, hec,
                "TLS handshake with " + where + " failed: " + ssl_error_text(hec));
        }
    }
    lowest.expires_never();
    co_return conn;
}

asio::awaitable<LeaseResult> HttpClient::Impl::acquire(LoopPool* pool, const Origin& origin,
                                                       Clock::time_point deadline,
                                                       bool allow_reuse) {
    auto ex = co_await asio::this_coro::executor;
    if (pool == nullptr) {
        auto c = co_await connect(origin, deadline, ex);
        if (!c) {
            co_return c.error();
        }
        co_return Lease{std::move(*c), false};
    }
    // Pooled sockets outlive this request, so they are bound to the loop's own executor.
    auto loop_ex = pool->ctx->get_executor();
    auto& op = pool->origins[origin.key];  // node-based: the reference survives rehashing
    const auto at_cap = [&] {
        return opts.max_connections != 0 && op.open >= opts.max_connections;
    };
    for (;;) {
        if (allow_reuse) {
            const auto now = Clock::now();
            while (!op.idle.empty()) {
                auto c = std::move(op.idle.back());
                op.idle.pop_back();
                if (now - c->idle_since < opts.max_idle && c->looks_alive()) {
                    co_return Lease{std::move(c), true};
                }
                c->close();
                --op.open;
            }
        } else if (at_cap() && !op.idle.empty()) {
            // A fresh connection is wanted: make room by closing the oldest idle one.
            op.idle.front()->close();
            op.idle.erase(op.idle.begin());
            --op.open;
        }
        if (!at_cap()) {
            ++op.open;
            auto c = co_await connect(origin, deadline, loop_ex);
            if (!c) {
                --op.open;
                notify_one(op);
                co_return c.error();
            }
            co_return Lease{std::move(*c), false};
        }
        auto w = std::make_shared<Waiter>(ex);
        w->timer.expires_at(deadline);
        op.waiters.push_back(w);
        co_await w->timer.async_wait(kUseTuple);
        if (!w->woken) {
            w->abandoned = true;
            co_return transport_error(TransportErrorKind::timeout, beast::error::timeout,
                                      "deadline passed waiting for a connection to " + origin.key);
        }
    }
}

namespace {

template <class Stream>
asio::awaitable<Exchange> exchange(Stream& stream, beast::tcp_stream& lowest,
                                   beast::flat_buffer& buffer,
                                   const bhttp::request<bhttp::string_body>& msg,
                                   Clock::time_point deadline, std::size_t body_limit, bool head) {
    Exchange out;
    lowest.expires_at(deadline);
    auto [wec, wn] = co_await bhttp::async_write(stream, msg, kUseTuple);
    if (wec) {
        out.ec = wec;
        co_return out;
    }
    out.written = true;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(body_limit);
    parser.header_limit(64 * 1024);
    parser.skip(head);
    buffer.clear();
    auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
    out.got_bytes = parser.got_some();
    if (rec) {
        out.ec = rec;
        co_return out;
    }
    out.response = parser.release();
    co_return out;
}

const boost::system::error_category& kHttpCategory =
    boost::system::error_code(bhttp::error::bad_version).category();

TransportError classify(const Exchange& ex, Clock::time_point deadline, const Origin& origin) {
    const auto& ec = ex.ec;
    if (ec == beast::error::timeout || Clock::now() >= deadline) {
        return transport_error(TransportErrorKind::timeout, ec,
                               "no complete response from " + origin.key + " before the deadline");
    }
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit ||
        ec == bhttp::error::buffer_overflow) {
        return transport_error(TransportErrorKind::too_large, ec,
                               "response from " + origin.key + " too large: " + ec.message());
    }
    const bool stream_end =
        ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
        ec == ssl::error::stream_truncated || ec.category() != kHttpCategory;
    if (stream_end && !ex.got_bytes) {
        return transport_error(
            TransportErrorKind::connection_lost, ec,
            "connection to " + origin.key + " lost before a response: " + ec.message());
    }
    if (stream_end) {
        return transport_error(TransportErrorKind::truncated, ec,
                               "response from " + origin.key + " truncated: " + ec.message());
    }
    return transport_error(TransportErrorKind::protocol, ec,
                           "invalid HTTP response from " + origin.key + ": " + ec.message());
}

}  // namespace

// ---- HttpClient -----------------------------------------------------------------------------

HttpClient::HttpClient(const std::vector<asio::io_context*>& loops, HttpClientOptions options)
    : impl_(std::make_shared<Impl>()) {
    impl_->opts = std::move(options);
    auto& ctx = impl_->tls_ctx;
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (!impl_->opts.ca_file.empty()) {
        ctx.load_verify_file(impl_->opts.ca_file, ec);
        if (ec) {
            throw std::runtime_error("cannot load upstream CA file '" + impl_->opts.ca_file +
                                     "': " + ec.message());
        }
    } else {
        ctx.set_default_verify_paths(ec);
        if (ec) {
            throw std::runtime_error("cannot load the system CA certificates: " + ec.message());
        }
    }
    for (auto* loop : loops) {
        auto p = std::make_unique<LoopPool>();
        p->ctx = loop;
        impl_->pools.push_back(std::move(p));
    }
}

HttpClient::~HttpClient() = default;

std::uint64_t HttpClient::connections_opened() const {
    return impl_->opened.load();
}

std::uint64_t HttpClient::tls_handshakes() const {
    return impl_->handshakes.load();
}

std::size_t HttpClient::idle_connections(asio::io_context& loop, const Origin& origin) const {
    const auto* pool = impl_->find_pool(loop);
    if (pool == nullptr) {
        return 0;
    }
    auto it = pool->origins.find(origin.key);
    return it == pool->origins.end() ? 0 : it->second.idle.size();
}

asio::awaitable<ConnectResult> HttpClient::connect(const Origin& origin,
                                                   Clock::time_point deadline) {
    auto impl = impl_;  // keeps the TLS context alive while connecting
    auto ex = co_await asio::this_coro::executor;
    co_return co_await impl->connect(origin, deadline, ex);
}

asio::awaitable<HttpResult> HttpClient::request(const Origin& origin, const HttpRequest& request,
                                                Clock::time_point deadline) {
    auto impl = impl_;  // in-flight requests keep the pools alive
    auto ex = co_await asio::this_coro::executor;
    LoopPool* pool = impl->find_pool(asio::query(ex, asio::execution::context));

    bhttp::request<bhttp::string_body> msg{bhttp::string_to_verb(request.method), request.target,
                                           11};
    if (msg.method() == bhttp::verb::unknown) {
        msg.method_string(request.method);
    }
    msg.set(bhttp::field::host, origin.host_header);
    msg.set(bhttp::field::user_agent, impl->opts.user_agent);
    for (const auto& [k, v] : request.headers) {
        msg.insert(k, v);
    }
    msg.body() = request.body;
    msg.prepare_payload();
    const bool head = msg.method() == bhttp::verb::head;

    bool allow_reuse = true;
    for (;;) {
        auto lease = co_await impl->acquire(pool, origin, deadline, allow_reuse);
        if (!lease) {
            co_return lease.error();
        }
        auto conn = std::move(lease->conn);
        // Two statements, not a conditional: GCC 12 miscompiles co_await inside `?:`.
        Exchange ex_result;
        if (conn->tls) {
            ex_result = co_await exchange(*conn->tls, conn->lowest(), conn->buffer, msg, deadline,
                                          impl->opts.body_limit, head);
        } else {
            ex_result = co_await exchange(*conn->plain, conn->lowest(), conn->buffer, msg, deadline,
                                          impl->opts.body_limit, head);
        }
        if (!ex_result.ec) {
            auto& res = ex_result.response;
            const bool keep = res.keep_alive() && !res.need_eof();
            HttpResponse out;
            out.status = static_cast<int>(res.result_int());
            out.headers.reserve(16);
            for (const auto& f : res) {
                out.headers.emplace_back(to_lower(f.name_string()), std::string(f.value()));
            }
            out.body = std::move(res.body());
            impl->release(pool, origin, std::move(conn), keep);
            co_return out;
        }
        auto err = classify(ex_result, deadline, origin);
        err.sent = ex_result.written;
        impl->release(pool, origin, std::move(conn), false);
        // A pooled connection the server had already closed: retry once on a fresh one, unless
        // the request must not be sent twice and may have arrived whole.
        if (lease->reused && allow_reuse && err.kind == TransportErrorKind::connection_lost &&
            (request.idempotent || !err.sent)) {
            allow_reuse = false;
            continue;
        }
        co_return err;
    }
}

}  // namespace voicegate::upstream
