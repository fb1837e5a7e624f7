// The server's WebSocket upgrade (http/websocket.hpp): a route answers Action::upgrade with a
// handler, the server does the handshake and runs it; counted, logged and drained like any
// connection. A real Server on loopback and the Beast test client of support/.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "http/router.hpp"
#include "http/server.hpp"
#include "support/eventually.hpp"
#include "support/http_test_client.hpp"
#include "support/ws_test_client.hpp"

namespace voicegate::http {
namespace {
namespace asio = boost::asio;
using std::chrono::milliseconds;
using test::WsTestClient;

// An echo route: every message comes back prefixed; "bye" closes 4000, "drop" drops.
Response echo_route(const Request&) {
    Response r;
    r.action = Action::upgrade;
    r.set("X-Echo", "1");
    r.websocket = [](std::shared_ptr<WebSocket> ws) -> asio::awaitable<void> {
        while (auto m = co_await ws->receive()) {
            if (*m == "bye") {
                ws->send("see you");
                ws->close(4000, "asked to");
            } else if (*m == "drop") {
                ws->drop();
            } else {
                ws->send("echo: " + *m);
            }
        }
    };
    return r;
}

class WebSocketServer : public ::testing::Test {
protected:
    void start() {
        router_.add("GET", "/ws",
                    [](Request& req) -> asio::awaitable<Response> { co_return echo_route(req); });
        router_.add("GET", "/plain", [](Request&) -> asio::awaitable<Response> {
            Response r;
            r.body = "{}";
            co_return r;
        });
        ServerOptions o;
        o.port = 0;
        o.access_log = false;
        o.on_complete = [this](const Request& req, int status, double) {
            std::lock_guard lock(mutex_);
            completed_.emplace_back(req.path, status);
        };
        server_ =
            std::make_unique<Server>(std::vector<asio::io_context*>{&ioc_}, o,
                                     [this](Request& req) { return router_.dispatch(req, false); });
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    void TearDown() override {
        if (server_) {
            server_->begin_drain();
        }
        test::eventually([&] { return server_->active_connections() == 0; }, milliseconds(3000));
        ioc_.stop();
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    std::vector<std::pair<std::string, int>> completed() {
        std::lock_guard lock(mutex_);
        return completed_;
    }

    Router router_;
    asio::io_context ioc_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::pair<std::string, int>> completed_;
};

TEST_F(WebSocketServer, UpgradesRunsTheHandlerAndLogs101) {
    start();
    WsTestClient ws;
    const auto hs = ws.connect(server_->port(), "/ws");
    ASSERT_EQ(hs.status, 101) << hs.error;
    EXPECT_EQ(hs.header("x-echo"), "1");  // the route's headers go into the 101
    EXPECT_TRUE(hs.header("x-request-id").starts_with("req_"));
    EXPECT_EQ(server_->active_connections(), 1U);
    ASSERT_TRUE(ws.send("hello"));
    EXPECT_EQ(ws.receive(), "echo: hello");
    ASSERT_TRUE(ws.send("bye"));
    EXPECT_EQ(ws.receive(), "see you");  // sent before the close
    const auto closed = ws.wait_closed();
    EXPECT_TRUE(closed.close_frame);
    EXPECT_EQ(closed.code, 4000);
    EXPECT_EQ(closed.reason, "asked to");
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
    EXPECT_TRUE(test::eventually([&] {
        const auto c = completed();
        return c.size() == 1 && c[0] == std::pair<std::string, int>("/ws", 101);
    }));
}

TEST_F(WebSocketServer, TheClientsCloseEndsTheHandler) {
    start();
    WsTestClient ws;
    ASSERT_EQ(ws.connect(server_->port(), "/ws").status, 101);
    ws.close(1000);  // the server answers the close handshake, the handler's receive() ends
    EXPECT_TRUE(ws.wait_closed().ended);
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
}

TEST_F(WebSocketServer, DropCutsTheConnectionWithoutACloseFrame) {
    start();
    WsTestClient ws;
    ASSERT_EQ(ws.connect(server_->port(), "/ws").status, 101);
    ASSERT_TRUE(ws.send("drop"));
    const auto closed = ws.wait_closed();
    EXPECT_TRUE(closed.ended);
    EXPECT_FALSE(closed.close_frame);
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
}

TEST_F(WebSocketServer, APlainRequestToAnUpgradeRouteIs426AndOthersStayHttp) {
    start();
    const auto res = test::http_request("127.0.0.1", server_->port(), "GET", "/ws");
    EXPECT_EQ(res.status, 426);
    EXPECT_NE(res.body.find("upgrade_required"), std::string::npos);
    WsTestClient ws;
    const auto hs = ws.connect(server_->port(), "/plain");
    EXPECT_EQ(hs.status, 200);  // a route that does not upgrade answers as usual
    EXPECT_FALSE(hs.error.empty());
}

TEST_F(WebSocketServer, DrainClosesOpenWebSocketsWith1001) {
    start();
    WsTestClient a;
    WsTestClient b;
    ASSERT_EQ(a.connect(server_->port(), "/ws").status, 101);
    ASSERT_EQ(b.connect(server_->port(), "/ws").status, 101);
    EXPECT_EQ(server_->active_connections(), 2U);
    server_->begin_drain();
    for (auto* ws : {&a, &b}) {
        const auto closed = ws->wait_closed();
        EXPECT_TRUE(closed.close_frame) << closed.error;
        EXPECT_EQ(closed.code, 1001);
    }
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
}

}  // namespace
}  // namespace voicegate::http
