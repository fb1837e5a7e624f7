#include "cli/post_json.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

namespace voicegate::cli {
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace asio = boost::asio;

CliResponse cli_post_json(const std::string& base_url, const std::string& path,
                          const std::string& body, const std::string& bearer, int timeout_ms) {
    CliResponse out;
    auto url = boost::urls::parse_absolute_uri(base_url);
    if (!url || url->scheme() != "http") {
        out.error = "--server must be an http:// URL like http://127.0.0.1:8080";
        return out;
    }
    const std::string host(url->host());
    const std::string port = url->has_port() ? std::string(url->port()) : "80";
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    boost::system::error_code ec;
    asio::ip::tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, port, ec);
    if (ec) {
        out.error = "cannot resolve " + host + ": " + ec.message();
        return out;
    }
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    stream.connect(results, ec);
    if (ec) {
        out.error = "cannot connect to " + base_url + ": " + ec.message() +
                    " (is `voicegate serve` running there?)";
        return out;
    }
    std::string target = std::string(url->encoded_path());
    while (!target.empty() && target.back() == '/') {
        target.pop_back();
    }
    target += path;
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::host, host + ":" + port);
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::user_agent, "voicegate-cli/" VOICEGATE_VERSION);
    if (!bearer.empty()) {
        req.set(bhttp::field::authorization, "Bearer " + bearer);
    }
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req, ec);
    if (ec) {
        out.error = "request failed: " + ec.message();
        return out;
    }
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res, ec);
    if (ec) {
        out.error = "no answer from " + base_url + ": " + ec.message();
        return out;
    }
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    return out;
}

}  // namespace voicegate::cli
