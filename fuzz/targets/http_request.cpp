// Fuzzes the HTTP request path as the server runs it: bytes from a client (Beast's test stream)
// read through http::read_request (header, then body, with the server's limits), every failure
// mapped to its early answer, each request turned into the handlers' Request (to_request), and
// token and end bodies parsed as their handlers parse them. Pipelined requests are read one
// after another from the same buffer, as on a keep-alive connection.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "api/token_request.hpp"
#include "config/config.hpp"
#include "http/request_reader.hpp"
#include "http/response.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using namespace voicegate;

constexpr std::size_t kHeaderLimit = 16 * 1024;  // the server's defaults
constexpr std::size_t kBodyLimit = 64 * 1024;

const config::TokenPolicy& token_config() {
    static const config::TokenPolicy cfg{};
    return cfg;
}

void handle(http::Request& req) {
    if (req.path == "/api/realtime/token" || req.path == "/api/realtime/end") {
        auto body = http::parse_json_object(req);
        if (!body) {
            return;
        }
        if (req.path == "/api/realtime/token") {
            (void)api::parse_token_request(*body, token_config());
        } else {
            (void)api::parse_end_request(*body);
        }
    }
}

asio::awaitable<void> serve(beast::test::stream& server) {
    beast::flat_buffer buffer;
    for (int i = 0; i < 64; ++i) {
        http::RequestParser parser;
        parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
        parser.body_limit(kBodyLimit);
        auto got = co_await http::read_request(server, buffer, parser, true, kHeaderLimit);
        if (got == http::ReadResult::ok && !parser.is_done()) {
            got = co_await http::read_request(server, buffer, parser, false, kHeaderLimit);
        }
        if (got != http::ReadResult::ok) {
            (void)http::early_error_for(got);
            co_return;
        }
        const bool keep_alive = parser.get().keep_alive();
        auto req = http::to_request(parser.get(), "127.0.0.1", true);
        handle(req);
        if (!keep_alive) {
            co_return;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    asio::io_context ioc;
    beast::test::stream server(ioc);
    beast::test::stream client(ioc);
    server.connect(client);
    // The input arrives in pieces of the first byte's size (1..256), as a network delivers it.
    const std::size_t piece = size > 0 ? static_cast<std::size_t>(data[0]) + 1 : 1;
    server.read_size(piece);
    if (size > 1) {
        client.write_some(asio::buffer(data + 1, size - 1));
    }
    client.close();  // the client is done: the server then sees end of stream
    asio::co_spawn(ioc, serve(server), asio::detached);
    ioc.run();
    return 0;
}
