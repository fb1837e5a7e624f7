#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "core/error.hpp"

namespace voicegate::upstream {

/// Where requests go: scheme, host and port of an upstream, with the strings the client needs
/// precomputed. Build it with parse_base_url(). Immutable; safe to share between threads.
struct Origin {
    bool tls = true;   // https
    std::string host;  // for connecting, SNI and certificate checks (no [brackets])
    std::uint16_t port = 443;
    std::string host_header;  // value of the Host header ("[::1]:8443", "api.openai.com")
    std::string key;          // pool key, "https://host:port"
};

/// A parsed base URL such as `https://api.openai.com/v1`: its origin and its path prefix
/// (without a trailing slash, "" for none).
struct BaseUrl {
    Origin origin;
    std::string path;
};

/// Parses an `http://` or `https://` base URL (no user info, query or fragment). Pure.
/// Fails with Error::bad_request and a message naming the problem.
Result<BaseUrl> parse_base_url(std::string_view url);

/// True for `localhost`, 127.0.0.0/8 and ::1 (with or without brackets). The server allows plain
/// `http://` upstreams only for these (loopback emulators). Pure.
bool is_loopback_host(std::string_view host);

/// An HTTP request to send. Header names are sent as given; Host, User-Agent and Content-Length
/// are added by the client.
struct HttpRequest {
    std::string method = "POST";
    std::string target;  // origin-form: "/v1/realtime/client_secrets"
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    /// False for a request that must not be sent twice (a POST that creates something): a
    /// reused connection that fails after the whole request was written is then not retried
    /// on a fresh one, since the server may have acted on it.
    bool idempotent = true;
};

/// A complete HTTP response. Header names are lowercase.
struct HttpResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /// The first header named `name` (lowercase), if any. Pure.
    std::optional<std::string_view> header(std::string_view name) const {
        for (const auto& [k, v] : headers) {
            if (k == name) {
                return std::string_view(v);
            }
        }
        return std::nullopt;
    }
};

/// Why a request got no complete HTTP response.
enum class TransportErrorKind {
    resolve,          // name resolution failed
    connect,          // TCP connect refused / unreachable
    connect_timeout,  // connect + TLS handshake exceeded the connect timeout
    tls_handshake,    // TLS handshake failed for a reason other than verification
    tls_verify,       // the peer's certificate did not verify (chain, name, expiry)
    connection_lost,  // reset / closed before any response byte
    truncated,        // closed in the middle of the response
    protocol,         // not a valid HTTP/1.1 response
    too_large,        // response over the body limit
    timeout,          // the request's total deadline passed
};

/// The kind's name as written above ("connect_timeout", ...), for metrics and logs. Pure.
std::string_view kind_name(TransportErrorKind kind);

/// A transport failure. `detail` may hold system/OpenSSL text and is meant for logs and dev-mode
/// `details` only; it never holds headers or bodies.
struct TransportError {
    TransportErrorKind kind = TransportErrorKind::connection_lost;
    boost::system::error_code ec;
    std::string detail;
    /// True when the whole request had been written before the failure: the server may have
    /// received and acted on it (a non-idempotent request must then not be retried blindly).
    bool sent = false;

    /// Whether a retry may help (connect errors, resets, truncation). Pure.
    bool retryable() const;
    /// The voicegate Failure for this error: timeout -> upstream_timeout; protocol, truncated,
    /// too_large -> upstream_bad_response; the rest -> upstream_unavailable. Pure.
    Failure to_failure() const;
};

/// boost::system::result hook: reached only by a bug (value() on an error).
[[noreturn]] void throw_exception_from_error(const TransportError& e,
                                             const boost::source_location& loc);

/// A response or a transport failure.
using HttpResult = boost::system::result<HttpResponse, TransportError>;

struct Connection;  // upstream/connection.hpp

/// A connection handed over by HttpClient::connect(), or why there is none.
using ConnectResult = boost::system::result<std::unique_ptr<Connection>, TransportError>;

/// Options of an HttpClient.
struct HttpClientOptions {
    std::chrono::milliseconds connect_timeout{5'000};  // TCP connect + TLS handshake
    std::size_t pool_size = 32;         // idle keep-alive connections kept per origin per loop
    std::size_t max_connections = 256;  // open connections per origin per loop; 0 = unlimited
    std::chrono::milliseconds max_idle{50'000};  // idle connections older than this are closed
    std::size_t body_limit = 1024 * 1024;        // largest accepted response body
    std::string ca_file;                         // PEM trust anchors; empty = the system CAs
    std::string user_agent = "voicegate";
};

/// An asynchronous HTTP/1.1 client for coroutines, on Beast: `https://` (OpenSSL, peer
/// verification against the system CAs or `ca_file`, SNI, host-name verification, TLS >= 1.2)
/// and plain `http://`.
///
/// Connections are kept alive in one pool per event loop, keyed by origin: pools for the loops
/// given at construction are created up front and found by `&executor.context()` without locks.
/// Each loop's pool is touched only from that loop's thread, so every io_context in `loops` must
/// be run by exactly one thread. Requests from any other executor work but are not pooled.
/// At most `pool_size` idle connections are kept per origin per loop (excess ones are closed);
/// at most `max_connections` are open (further requests wait for one, within their deadline).
/// A reused connection that fails before any response byte is retried once on a fresh one.
///
/// Thread safety: request() may be called concurrently from coroutines on every loop; counters
/// are atomic. The client may be destroyed while requests are in flight (they keep its state).
class HttpClient {
public:
    /// Creates the TLS context and one pool per loop. Throws std::runtime_error if `ca_file`
    /// cannot be loaded (a startup failure).
    HttpClient(const std::vector<boost::asio::io_context*>& loops, HttpClientOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Sends `request` to `origin` and reads the whole response, all before `deadline` (the
    /// connect phase is also bounded by connect_timeout). Must be co_awaited from a coroutine;
    /// `origin` and `request` must stay valid until it completes. Never throws for network
    /// failures: they are TransportError values. Any HTTP status is a response, not an error.
    boost::asio::awaitable<HttpResult> request(const Origin& origin, const HttpRequest& request,
                                               std::chrono::steady_clock::time_point deadline);

    /// Opens a connection of its own to `origin`, never pooled, for a protocol that takes the
    /// connection over (the sideband WebSocket): TCP connect, and for https the TLS handshake
    /// with this client's context (verification, SNI, host-name check), all before `deadline`
    /// and within connect_timeout. Must be co_awaited from a coroutine on the executor the
    /// connection will be used on; `origin` must stay valid until it completes. Network
    /// failures are TransportError values (resolve, connect, connect_timeout, timeout,
    /// tls_handshake, tls_verify).
    boost::asio::awaitable<ConnectResult> connect(const Origin& origin,
                                                  std::chrono::steady_clock::time_point deadline);

    /// TCP connections successfully opened since construction. Thread-safe.
    std::uint64_t connections_opened() const;
    /// TLS handshakes started since construction. Thread-safe.
    std::uint64_t tls_handshakes() const;
    /// Idle pooled connections to `origin` on `loop`. Call only from `loop`'s thread (or when it
    /// is not running); for tests and diagnostics.
    std::size_t idle_connections(boost::asio::io_context& loop, const Origin& origin) const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace voicegate::upstream
