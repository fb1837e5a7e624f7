#include "support/fake_sideband_server.hpp"

#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace voicegate::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

class WsConn final : public FakeSidebandServer::Conn {
public:
    WsConn(beast::tcp_stream stream, const http::request<http::string_body>& req)
        : ws_(std::move(stream)),
          target_(req.target()),
          authorization_(req[http::field::authorization]),
          openai_beta_(req["OpenAI-Beta"]) {}

    asio::awaitable<bool> accept(const http::request<http::string_body>& req) {
        auto [ec] = co_await ws_.async_accept(req, kUseTuple);
        co_return !ec;
    }

    const std::string& target() const override { return target_; }
    const std::string& authorization() const override { return authorization_; }
    const std::string& openai_beta() const override { return openai_beta_; }

    asio::awaitable<std::optional<std::string>> read(std::chrono::milliseconds limit) override {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(limit);
        bool timed_out = false;
        timer.async_wait([&](boost::system::error_code ec) {
            if (!ec) {
                timed_out = true;
                beast::get_lowest_layer(ws_).cancel();
            }
        });
        beast::flat_buffer buffer;
        auto [ec, n] = co_await ws_.async_read(buffer, kUseTuple);
        timer.cancel();
        closed_by_client_ = ec == websocket::error::closed;
        if (ec || timed_out) {
            co_return std::nullopt;
        }
        co_return beast::buffers_to_string(buffer.data());
    }

    bool closed_by_client() const override { return closed_by_client_; }

    asio::awaitable<void> send(std::string text) override {
        ws_.text(true);
        (void)co_await ws_.async_write(asio::buffer(text), kUseTuple);
    }

    asio::awaitable<void> close(int code, std::string reason) override {
        websocket::close_reason cr(static_cast<websocket::close_code>(code));
        cr.reason = reason;
        (void)co_await ws_.async_close(cr, kUseTuple);
    }

    void drop() override {
        boost::system::error_code ig;
        beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ig);
        beast::get_lowest_layer(ws_).close();
    }

    asio::awaitable<bool> wait_for(std::function<bool()> pred,
                                   std::chrono::milliseconds limit) override {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        const auto end = std::chrono::steady_clock::now() + limit;
        while (!pred() && std::chrono::steady_clock::now() < end) {
            timer.expires_after(std::chrono::milliseconds(10));
            (void)co_await timer.async_wait(kUseTuple);
        }
        co_return pred();
    }

private:
    websocket::stream<beast::tcp_stream> ws_;
    std::string target_;
    std::string authorization_;
    std::string openai_beta_;
    bool closed_by_client_ = false;
};

}  // namespace

struct FakeSidebandServer::Impl : std::enable_shared_from_this<Impl> {
    Admit admit;
    Script script;
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::atomic<int> seen{0};
    std::thread thread;

    asio::awaitable<void> serve(tcp::socket socket, int index) {
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        auto [ec, n] = co_await http::async_read(stream, buffer, req, kUseTuple);
        if (ec) {
            co_return;
        }
        const int refuse = admit ? admit(index) : 0;
        if (refuse != 0 || !websocket::is_upgrade(req)) {
            http::response<http::string_body> res{static_cast<http::status>(refuse ? refuse : 400),
                                                  11};
            res.set(http::field::content_type, "application/json");
            res.body() = R"({"error":{"message":"No session found for the provided call_id",)"
                         R"("type":"invalid_request_error","code":"call_id_not_found"}})";
            res.prepare_payload();
            (void)co_await http::async_write(stream, res, kUseTuple);
            co_return;
        }
        WsConn conn(std::move(stream), req);
        if (!co_await conn.accept(req)) {
            co_return;
        }
        co_await script(conn, index);
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
            if (ec) {
                co_return;
            }
            const int index = seen++;
            asio::co_spawn(io, serve(std::move(socket), index), asio::detached);
        }
    }
};

FakeSidebandServer::FakeSidebandServer(Admit admit, Script script)
    : impl_(std::make_shared<Impl>()) {
    impl_->admit = std::move(admit);
    impl_->script = std::move(script);
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
    impl_->thread = std::thread([impl = impl_] { impl->io.run(); });
}

FakeSidebandServer::~FakeSidebandServer() {
    impl_->io.stop();
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
}

std::uint16_t FakeSidebandServer::port() const {
    return impl_->acceptor.local_endpoint().port();
}

std::string FakeSidebandServer::base_url() const {
    return "http://127.0.0.1:" + std::to_string(port()) + "/v1";
}

int FakeSidebandServer::connections() const {
    return impl_->seen.load();
}

}  // namespace voicegate::test
