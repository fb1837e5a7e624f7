#include "support/http_test_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace voicegate::test {
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace asio = boost::asio;

HttpResult http_request(const std::string& host, std::uint16_t port, const std::string& method,
                        const std::string& target, const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::chrono::milliseconds timeout) {
    HttpResult out;
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, host + ":" + std::to_string(port));
    for (const auto& [k, v] : headers) {
        req.set(k, v);
    }
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PUT") {
        req.prepare_payload();
    }
    req.keep_alive(false);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    boost::system::error_code result_ec;
    stream.expires_after(timeout);
    stream.async_connect(
        asio::ip::tcp::endpoint(asio::ip::make_address(host), port),
        [&](boost::system::error_code ec) {
            if (ec) {
                result_ec = ec;
                return;
            }
            bhttp::async_write(stream, req, [&](boost::system::error_code wec, std::size_t) {
                if (wec) {
                    result_ec = wec;
                    return;
                }
                bhttp::async_read(
                    stream, buffer, parser,
                    [&](boost::system::error_code rec, std::size_t) { result_ec = rec; });
            });
        });
    ioc.run();
    if (result_ec) {
        out.error = result_ec.message();
        return out;
    }
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
        std::string name(f.name_string());
        for (auto& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        out.headers.emplace(name, std::string(f.value()));
    }
    out.body = res.body();
    return out;
}

HttpResult post_json(std::uint16_t port, const std::string& target, const std::string& json,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
    auto all = headers;
    all.emplace_back("Content-Type", "application/json");
    return http_request("127.0.0.1", port, "POST", target, json, all);
}

}  // namespace voicegate::test
