#pragma once

// Reading one HTTP/1.1 request off a byte stream into a Beast parser, with every way it can fail
// mapped to the answer the client gets. A template over the stream so the server reads from its
// TCP stream and the fuzzer (fuzz/http_request.cpp) from Beast's test stream through the same
// code. Include only where the stream type is known (server.cpp, the fuzz target): it pulls in
// Beast's parser.

#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/text.hpp"
#include "http/message.hpp"

namespace voicegate::http {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// The handlers' Request from a parsed message (its body moved out): the target split into path
/// and query (absolute form reduced to its path), header names lowercased, a request id (the
/// client's X-Request-Id if `trust_request_id` and it is sane, else a new one). Defined in
/// to_request.cpp.
Request to_request(boost::beast::http::request<boost::beast::http::string_body>& msg,
                   const std::string& peer, bool trust_request_id);

/// How reading a request ended.
enum class ReadResult {
    ok,                 // the phase asked for is complete
    closed,             // the client closed (or reset) before sending anything of this request
    timeout,            // the deadline passed with nothing of this request received
    aborted,            // the read was cancelled (a drain)
    incomplete,         // the client closed or the deadline passed in the middle of a request
    bad_request,        // malformed syntax (request line, headers, chunk framing)
    headers_too_large,  // the header block or the trailer is over the header limit
    body_too_large,     // Content-Length or the body read is over the body limit
    not_implemented,    // a transfer coding other than chunked
};

/// What the client is told for a failed read, or nullopt when nobody is left to tell.
struct EarlyError {
    boost::beast::http::status status;
    std::string_view code;
    std::string_view message;
};

/// The answer for a read result; nullopt for ok and when the client is gone or never started a
/// request (closed, timeout, aborted). Pure.
inline std::optional<EarlyError> early_error_for(ReadResult r) {
    using boost::beast::http::status;
    switch (r) {
        case ReadResult::incomplete:
            return EarlyError{status::request_timeout, "request_timeout",
                              "The request was not received in time."};
        case ReadResult::bad_request:
            return EarlyError{status::bad_request, "bad_request", "Malformed HTTP request."};
        case ReadResult::headers_too_large:
            return EarlyError{status::request_header_fields_too_large, "headers_too_large",
                              "Request headers are too large."};
        case ReadResult::body_too_large:
            return EarlyError{status::payload_too_large, "payload_too_large",
                              "The request body is too large."};
        case ReadResult::not_implemented:
            return EarlyError{status::not_implemented, "not_implemented",
                              "Only the chunked transfer coding is supported."};
        case ReadResult::ok:
        case ReadResult::closed:
        case ReadResult::timeout:
        case ReadResult::aborted:
            break;
    }
    return std::nullopt;
}

/// Whether the Transfer-Encoding field names only `chunked` (or is absent): any other coding
/// (gzip, compress, ...) is refused with 501 rather than silently ignored. Pure.
inline bool transfer_coding_supported(std::string_view te) {
    while (!te.empty()) {
        const auto comma = te.find(',');
        const auto item = trim_view(te.substr(0, comma));
        const auto semi = item.find(';');
        const auto coding = trim_view(item.substr(0, semi));
        if (!coding.empty() && !iequals(coding, "chunked")) {
            return false;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        te.remove_prefix(comma + 1);
    }
    return true;
}

namespace detail {

inline ReadResult map_parse_error(const boost::beast::error_code& ec) {
    namespace bhttp = boost::beast::http;
    if (ec == bhttp::error::header_limit) {
        return ReadResult::headers_too_large;
    }
    if (ec == bhttp::error::body_limit) {
        return ReadResult::body_too_large;
    }
    return ReadResult::bad_request;
}

}  // namespace detail

/// Reads from `stream` into `parser` (through `buffer`, which keeps bytes of a pipelined next
/// request) until the header is complete (`header_only`) or the whole message is.
///
/// The parser is driven here with put() rather than by Beast's composed read, so a parser
/// exception (a trailer field over 64 KiB makes Beast throw std::length_error) is caught and
/// answered instead of escaping into the event loop. A trailer larger than `trailer_limit` bytes
/// is refused as headers_too_large; a Transfer-Encoding other than chunked as not_implemented.
/// Deadlines are the caller's: it cancels the stream's pending read when the request's time is up
/// and sets `*deadline_passed` (if given), which turns that cancellation into `timeout` or
/// `incomplete` (answered 408) instead of `aborted`.
template <class Stream>
boost::asio::awaitable<ReadResult> read_request(Stream& stream, boost::beast::flat_buffer& buffer,
                                                RequestParser& parser, bool header_only,
                                                std::size_t trailer_limit,
                                                const bool* deadline_passed = nullptr) {
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    namespace bhttp = boost::beast::http;
    constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

    // Bytes consumed since the final (zero-size) chunk: the trailer section. The parser keeps a
    // pointer to the callback, which lives in this frame: do not put() into it after returning.
    std::optional<std::size_t> trailer_bytes;
    auto on_chunk = [&trailer_bytes](std::uint64_t size, std::string_view, beast::error_code&) {
        if (size == 0) {
            trailer_bytes = 0;
        }
    };
    if (!header_only) {
        parser.on_chunk_header(on_chunk);
        parser.eager(true);
    }
    auto done = [&] { return header_only ? parser.is_header_done() : parser.is_done(); };
    bool te_checked = parser.is_header_done();

    for (;;) {
        while (buffer.size() > 0 && !done()) {
            beast::error_code ec;
            std::size_t used = 0;
            try {
                used = parser.put(buffer.data(), ec);
            } catch (const std::length_error&) {
                co_return ReadResult::headers_too_large;  // a field value over Beast's 64 KiB
            } catch (const std::exception&) {
                co_return ReadResult::bad_request;
            }
            buffer.consume(used);
            if (trailer_bytes) {
                *trailer_bytes += used;
                if (*trailer_bytes > trailer_limit) {
                    co_return ReadResult::headers_too_large;
                }
            }
            if (ec == bhttp::error::need_more) {
                break;
            }
            if (ec) {
                co_return detail::map_parse_error(ec);
            }
            if (!te_checked && parser.is_header_done()) {
                te_checked = true;
                const auto& msg = parser.get();
                const auto te = msg.find(bhttp::field::transfer_encoding);
                if (te != msg.end() && !transfer_coding_supported(te->value())) {
                    co_return ReadResult::not_implemented;
                }
            }
            if (used == 0) {
                break;
            }
        }
        if (done()) {
            co_return ReadResult::ok;
        }
        std::size_t want = 0;
        try {
            want = beast::read_size(buffer, 65536);
        } catch (const std::exception&) {
            co_return ReadResult::headers_too_large;  // the buffer is at its maximum size
        }
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(want), use_tuple);
        buffer.commit(n);
        const bool nothing = !parser.got_some() && buffer.size() == 0;
        if (ec == asio::error::eof && n == 0) {
            // A message delimited by the connection's end ends cleanly here (Beast asserts
            // that the parser has seen something before it is told of the end).
            if (parser.got_some()) {
                beast::error_code eec;
                parser.put_eof(eec);
                if (!eec && done()) {
                    co_return ReadResult::ok;
                }
            }
            co_return nothing ? ReadResult::closed : ReadResult::incomplete;
        }
        if (ec == beast::error::timeout || (ec == asio::error::operation_aborted &&
                                            deadline_passed != nullptr && *deadline_passed)) {
            co_return nothing ? ReadResult::timeout : ReadResult::incomplete;
        }
        if (ec == asio::error::operation_aborted) {
            co_return ReadResult::aborted;
        }
        if (ec) {
            co_return nothing ? ReadResult::closed : ReadResult::incomplete;
        }
    }
}

}  // namespace voicegate::http
