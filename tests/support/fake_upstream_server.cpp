#include "support/fake_upstream_server.hpp"
#include "core/text.hpp"

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <openssl/ssl.h>

namespace voicegate::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);


asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    if (d.count() > 0) {
        asio::steady_timer t(co_await asio::this_coro::executor, d);
        co_await t.async_wait(kUseTuple);
    }
}

}  // namespace

// The HTTPS side: an acceptor and one coroutine per connection, on the server's io_context.
struct FakeUpstreamServer::Tls : std::enable_shared_from_this<FakeUpstreamServer::Tls> {
    Tls(FakeUpstreamServer& o, asio::io_context& ioc)
        : owner(o), ctx(ssl::context::tls_server), acceptor(ioc) {}
    FakeUpstreamServer& owner;
    ssl::context ctx;
    tcp::acceptor acceptor;
    std::atomic<std::uint64_t> accepted{0};

    asio::awaitable<void> accept_loop() {
        auto self = shared_from_this();  // the loop's coroutines keep this alive
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
            if (ec) {
                co_return;
            }
            ++accepted;
            asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket socket) {
        auto self = shared_from_this();
        beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), ctx);
        auto& lowest = beast::get_lowest_layer(stream);
        lowest.expires_after(std::chrono::seconds(5));
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
        if (hec) {
            co_return;
        }
        {
            const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
            std::lock_guard lock(owner.mutex_);
            owner.sni_.emplace_back(sni != nullptr ? sni : "");
        }
        beast::flat_buffer buffer;
        for (;;) {
            bhttp::request<bhttp::string_body> msg;
            lowest.expires_after(owner.options_.idle_timeout);
            auto [rec, n] = co_await bhttp::async_read(stream, buffer, msg, kUseTuple);
            if (rec) {
                break;
            }
            lowest.expires_never();
            http::Request req;
            req.method = std::string(msg.method_string());
            req.target = std::string(msg.target());
            const auto q = req.target.find('?');
            req.path = req.target.substr(0, q);
            if (q != std::string::npos) {
                req.query = req.target.substr(q + 1);
            }
            for (const auto& f : msg) {
                req.headers.emplace_back(to_lower(f.name_string()), std::string(f.value()));
            }
            req.body = std::move(msg.body());
            req.client_ip = "127.0.0.1";
            co_await sleep_for(owner.delay());
            http::Response res = owner.answer(req);
            if (res.action == http::Action::reset) {
                boost::system::error_code ig;
                lowest.socket().set_option(tcp::socket::linger(true, 0), ig);
                lowest.socket().close(ig);
                co_return;
            }
            if (res.action == http::Action::hang) {
                lowest.expires_after(std::chrono::seconds(60));
                char byte = 0;
                co_await lowest.async_read_some(asio::buffer(&byte, 1), kUseTuple);
                co_return;
            }
            bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), 11};
            if (!res.content_type.empty()) {
                out.set(bhttp::field::content_type, res.content_type);
            }
            for (auto& [k, v] : res.headers) {
                out.insert(k, v);
            }
            out.body() = std::move(res.body);
            const bool keep = msg.keep_alive() && !res.close;
            out.keep_alive(keep);
            out.prepare_payload();
            lowest.expires_after(std::chrono::seconds(5));
            auto [wec, wn] = co_await bhttp::async_write(stream, out, kUseTuple);
            if (wec || !keep) {
                break;
            }
        }
        boost::system::error_code ig;
        lowest.socket().shutdown(tcp::socket::shutdown_both, ig);
        lowest.socket().close(ig);
    }
};

FakeUpstreamServer::FakeUpstreamServer(Script script, FakeUpstreamOptions options)
    : options_(std::move(options)), script_(std::move(script)) {
    if (options_.tls) {
        tls_ = std::make_shared<Tls>(*this, ioc_);
        tls_->ctx.use_certificate_chain_file(options_.cert_file);
        tls_->ctx.use_private_key_file(options_.key_file, ssl::context::pem);
        const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
        tls_->acceptor.open(ep.protocol());
        tls_->acceptor.set_option(asio::socket_base::reuse_address(true));
        tls_->acceptor.bind(ep);
        tls_->acceptor.listen();
        port_ = tls_->acceptor.local_endpoint().port();
        asio::co_spawn(ioc_, tls_->accept_loop(), asio::detached);
    } else {
        http::ServerOptions so;
        so.host = "127.0.0.1";
        so.port = 0;
        so.name = "fake-upstream";
        so.access_log = false;
        so.trust_request_id = false;
        so.idle_timeout = options_.idle_timeout;
        so.hang_limit = std::chrono::seconds(60);
        plain_ = std::make_unique<http::Server>(
            std::vector<asio::io_context*>{&ioc_}, so,
            [this](http::Request& req) -> asio::awaitable<http::Response> {
                co_await sleep_for(delay());
                co_return answer(req);
            });
        plain_->start();
        port_ = plain_->port();
    }
    thread_ = std::thread([this] { ioc_.run(); });
}

FakeUpstreamServer::~FakeUpstreamServer() {
    ioc_.stop();
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::string FakeUpstreamServer::base_url(std::string_view host) const {
    return std::string(options_.tls ? "https://" : "http://") + std::string(host) + ":" +
           std::to_string(port_) + "/v1";
}

void FakeUpstreamServer::set_script(Script script) {
    std::lock_guard lock(mutex_);
    script_ = std::move(script);
}

void FakeUpstreamServer::set_delay(std::chrono::milliseconds delay) {
    delay_ms_ = delay.count();
}

std::chrono::milliseconds FakeUpstreamServer::delay() const {
    return std::chrono::milliseconds(delay_ms_.load());
}

http::Response FakeUpstreamServer::answer(const http::Request& req) {
    Script script;
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(req);
        script = script_;
    }
    return script ? script(req) : http::Response{};
}

std::vector<http::Request> FakeUpstreamServer::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::size_t FakeUpstreamServer::request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
}

std::uint64_t FakeUpstreamServer::connections_accepted() const {
    return tls_ ? tls_->accepted.load() : plain_->connections_accepted();
}

std::vector<std::string> FakeUpstreamServer::tls_server_names() const {
    std::lock_guard lock(mutex_);
    return sni_;
}

http::Response client_secret_response(std::string value, std::int64_t expires_at,
                                      std::string session_id, std::string model,
                                      std::string voice) {
    boost::json::object output{{"format", {{"type", "audio/pcm"}, {"rate", 24000}}}};
    if (!voice.empty()) {
        output["voice"] = voice;
    }
    boost::json::object session{{"type", "realtime"},
                                {"object", "realtime.session"},
                                {"id", session_id},
                                {"model", model},
                                {"output_modalities", boost::json::array{"audio"}},
                                {"expires_at", 0},
                                {"audio", {{"output", output}}}};
    boost::json::object body{
        {"value", value}, {"expires_at", expires_at}, {"session", std::move(session)}};
    http::Response r;
    r.body = boost::json::serialize(body);
    r.set("x-request-id", "req_upstream_ok");
    return r;
}

http::Response openai_error_response(int status, std::string type, std::string code,
                                     std::string message) {
    boost::json::object err{{"message", message}, {"type", type}, {"param", nullptr}};
    if (code.empty()) {
        err["code"] = nullptr;
    } else {
        err["code"] = code;
    }
    http::Response r;
    r.status = status;
    r.body = boost::json::serialize(boost::json::object{{"error", std::move(err)}});
    r.set("x-request-id", "req_upstream_err");
    return r;
}

}  // namespace voicegate::test
