#include <gtest/gtest.h>

#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "http/response.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "support/http_test_client.hpp"

namespace voicegate::http {
namespace {
namespace asio = boost::asio;

// Runs a real Server on 127.0.0.1:0 on one loop in a background thread.
class ServerFixture : public ::testing::Test {
protected:
    void start(ServerOptions opts, Handler h) {
        opts.host = "127.0.0.1";
        opts.port = 0;
        opts.access_log = false;
        server_ =
            std::make_unique<Server>(std::vector<asio::io_context*>{&ioc_}, opts, std::move(h));
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    void TearDown() override {
        ioc_.stop();
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    asio::io_context ioc_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
};

TEST_F(ServerFixture, AnswersWithRequestIdAndHandlerBody) {
    start({}, [](Request& req) -> asio::awaitable<Response> {
        Response r;
        r.body = R"({"path":")" + req.path + "\"}";
        co_return r;
    });
    auto res = test::http_request("127.0.0.1", server_->port(), "GET", "/x?y=1");
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, R"({"path":"/x"})");
    EXPECT_EQ(res.header("x-request-id").rfind("req_", 0), 0U);
    auto res2 = test::http_request("127.0.0.1", server_->port(), "GET", "/", "",
                                   {{"X-Request-Id", "abc-123"}});
    EXPECT_EQ(res2.header("x-request-id"), "abc-123");
}

TEST_F(ServerFixture, BodyOverLimitIs413) {
    ServerOptions o;
    o.body_limit = 1024;
    start(o, [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    auto res = test::post_json(server_->port(), "/", std::string(4096, 'a'));
    EXPECT_EQ(res.status, 413);
    EXPECT_NE(res.body.find("payload_too_large"), std::string::npos);
}

TEST_F(ServerFixture, HandlerExceptionIsGeneric500) {
    start({}, [](Request&) -> asio::awaitable<Response> {
        throw std::runtime_error("secret internal detail");
        co_return Response{};
    });
    auto res = test::http_request("127.0.0.1", server_->port(), "GET", "/");
    EXPECT_EQ(res.status, 500);
    EXPECT_EQ(res.body.find("secret internal detail"), std::string::npos);
}

TEST_F(ServerFixture, RouterGives404And405WithAllow) {
    auto router = std::make_shared<Router>();
    router->add("POST", "/api/x",
                [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    start({}, [router](Request& req) { return router->dispatch(req, false); });
    auto nf = test::http_request("127.0.0.1", server_->port(), "GET", "/nope");
    EXPECT_EQ(nf.status, 404);
    auto na = test::http_request("127.0.0.1", server_->port(), "GET", "/api/x");
    EXPECT_EQ(na.status, 405);
    EXPECT_EQ(na.header("allow"), "POST");
    auto body = boost::json::parse(na.body).as_object();
    EXPECT_EQ(body.at("success").as_bool(), false);
    EXPECT_EQ(body.at("code").as_string(), "method_not_allowed");
}

TEST_F(ServerFixture, SlowClientCannotPinAConnection) {
    ServerOptions o;
    o.request_timeout = std::chrono::milliseconds(300);
    start(o, [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    // A client that sends half a request and then nothing (slowloris) is cut off.
    asio::io_context client;
    asio::ip::tcp::socket sock(client);
    sock.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    const std::string partial = "POST /api/realtime/token HTTP/1.1\r\nHost: x\r\n";
    asio::write(sock, asio::buffer(partial));
    const auto started = std::chrono::steady_clock::now();
    char buf[256];
    boost::system::error_code ec;
    sock.read_some(asio::buffer(buf), ec);  // blocks until the server closes
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    EXPECT_LT(waited, std::chrono::seconds(5));
    EXPECT_GE(waited, std::chrono::milliseconds(250));
}

}  // namespace
}  // namespace voicegate::http
