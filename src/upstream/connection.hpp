#pragma once

#include <chrono>
#include <memory>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace voicegate::upstream {

/// One upstream connection as HttpClient opens it: a plain TCP stream or a TLS stream over one
/// (exactly one is set), plus its read buffer. HttpClient pools these; HttpClient::connect()
/// hands one over to a protocol that takes the connection (the sideband WebSocket).
/// Not thread-safe: used from the loop that opened it.
struct Connection {
    using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

    std::unique_ptr<boost::beast::tcp_stream> plain;
    std::unique_ptr<TlsStream> tls;
    boost::beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since{};

    /// The TCP stream under either.
    boost::beast::tcp_stream& lowest() {
        return tls ? boost::beast::get_lowest_layer(*tls) : *plain;
    }
    /// Shuts the socket down and closes it (errors ignored).
    void close();
    /// Checks an idle connection without blocking: the peer closing it (EOF) or a socket error
    /// means it is dead. Unsolicited bytes on a plain connection mean it is out of sync; on TLS
    /// they may be a post-handshake message (session ticket), so those are let through.
    bool looks_alive();
};

}  // namespace voicegate::upstream
