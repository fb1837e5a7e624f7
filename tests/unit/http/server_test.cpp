#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "http/response.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "support/eventually.hpp"
#include "support/http_test_client.hpp"

namespace voicegate::http {
namespace {
namespace asio = boost::asio;

// Sends `bytes` on a new connection and returns everything received until the server closes it
// (or `timeout` passes).
std::string exchange(std::uint16_t port, const std::string& bytes,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    asio::io_context client;
    asio::ip::tcp::socket sock(client);
    sock.connect({asio::ip::make_address("127.0.0.1"), port});
    const timeval tv{static_cast<time_t>(timeout.count() / 1000),
                     static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    boost::system::error_code ec;
    asio::write(sock, asio::buffer(bytes), ec);
    std::string out;
    char buf[8192];
    for (;;) {
        const auto n = ::recv(sock.native_handle(), buf, sizeof buf, 0);
        if (n <= 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

// The status code of the first response in `raw`, 0 if there is none.
int status_of(const std::string& raw) {
    if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) {
        return 0;
    }
    return std::atoi(raw.substr(9, 3).c_str());
}

// A connection that has sent one keep-alive GET and read its answer's head.
struct KeptAliveConnection {
    explicit KeptAliveConnection(std::uint16_t port) {
        sock.connect({asio::ip::make_address("127.0.0.1"), port});
        asio::write(sock, asio::buffer(std::string("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")));
        asio::read_until(sock, first, "\r\n\r\n");
    }
    std::string head() const {
        return {asio::buffers_begin(first.data()), asio::buffers_end(first.data())};
    }
    asio::io_context io;
    asio::ip::tcp::socket sock{io};
    asio::streambuf first;
};

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
    // A client that sends half a request and then nothing (slowloris) is cut off, and told why.
    const auto started = std::chrono::steady_clock::now();
    const auto got = exchange(server_->port(), "POST /api/realtime/token HTTP/1.1\r\nHost: x\r\n");
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(status_of(got), 408) << got;
    EXPECT_NE(got.find("request_timeout"), std::string::npos) << got;
    EXPECT_LT(waited, std::chrono::seconds(5));
    EXPECT_GE(waited, std::chrono::milliseconds(250));
}

// Probe D1: a chunked trailer field of 64 KiB or more made Beast throw out of the session: no
// answer, and the connection stayed counted forever (so every drain waited its deadline).
TEST_F(ServerFixture, HugeChunkedTrailerIs431AndLeaksNoConnection) {
    start({}, [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    const std::string head =
        "POST /api/realtime/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n";
    for (const std::size_t size : {70'000U, 65'534U, 20'000U}) {
        for (int i = 0; i < 5; ++i) {
            const auto got =
                exchange(server_->port(), head + "X-T: " + std::string(size, 'a') + "\r\n\r\n");
            EXPECT_EQ(status_of(got), 431) << "trailer of " << size << " bytes: " << got;
            EXPECT_NE(got.find("headers_too_large"), std::string::npos);
        }
    }
    // A small trailer is still fine.
    EXPECT_EQ(status_of(exchange(server_->port(), head + "X-T: ok\r\nConnection: close\r\n\r\n")),
              200);
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }))
        << server_->active_connections() << " connection(s) still counted";
}

// Test review D5: a request header block over ServerOptions::header_limit is answered 431 and
// the connection let go; one under it is served.
TEST_F(ServerFixture, HeaderOverTheLimitIs431) {
    ServerOptions o;  // header_limit: 16 KiB
    ASSERT_EQ(o.header_limit, 16U * 1024);
    start(o, [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    const auto request = [](std::size_t value_size) {
        return "GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(value_size, 'a') +
               "\r\nConnection: close\r\n\r\n";
    };
    const auto over = exchange(server_->port(), request(17 * 1024));
    EXPECT_EQ(status_of(over), 431) << over.substr(0, 200);
    EXPECT_NE(over.find("headers_too_large"), std::string::npos) << over.substr(0, 200);
    EXPECT_EQ(status_of(exchange(server_->port(), request(15 * 1024))), 200);
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
}

// Test review D5: a keep-alive connection that sends nothing after its answer is closed after
// idle_timeout (here 300 ms; the request timeout of 30 s is not what closes it).
TEST_F(ServerFixture, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
    ServerOptions o;
    o.idle_timeout = std::chrono::milliseconds(300);
    o.request_timeout = std::chrono::seconds(30);
    start(o, [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    KeptAliveConnection conn(server_->port());
    auto& sock = conn.sock;
    const std::string head = conn.head();
    EXPECT_EQ(status_of(head), 200);
    EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;  // kept alive
    const auto answered = std::chrono::steady_clock::now();
    const timeval tv{10, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n = 0;
    do {  // whatever is left of the first answer's body, then the server's FIN
        n = ::recv(sock.native_handle(), buf, sizeof buf, 0);
    } while (n > 0);
    const auto idle = std::chrono::steady_clock::now() - answered;
    EXPECT_EQ(n, 0) << "the server did not close the idle connection (errno " << errno << ")";
    EXPECT_GE(idle, std::chrono::milliseconds(250));
    EXPECT_LT(idle, std::chrono::seconds(5));
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
}

// Test review D5: a client that never reads its (large) answer cannot pin a connection: the
// write is abandoned after write_timeout and the connection closed.
TEST_F(ServerFixture, ClientThatDoesNotReadIsCutAfterWriteTimeout) {
    ServerOptions o;
    o.write_timeout = std::chrono::milliseconds(300);
    auto completed = std::make_shared<std::atomic<int>>(0);
    o.on_complete = [completed](const Request&, int, double) { ++*completed; };
    start(o, [](Request&) -> asio::awaitable<Response> {
        Response r;
        r.content_type = "application/octet-stream";
        r.body.assign(std::size_t{64} * 1024 * 1024, 'x');  // far beyond any socket buffer
        co_return r;
    });
    asio::io_context client;
    asio::ip::tcp::socket sock(client);
    sock.open(asio::ip::tcp::v4());
    const int small = 4096;
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sock.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    asio::write(sock, asio::buffer(std::string("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")));
    ASSERT_TRUE(test::eventually([&] { return server_->active_connections() == 1; }));
    const auto started = std::chrono::steady_clock::now();
    // The client reads nothing; the server gives up writing on its own.
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; },
                                 std::chrono::seconds(10)))
        << "a client that does not read still holds its connection";
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_TRUE(test::eventually([&] { return completed->load() == 1; }));
}

// Probe D6: errors found while reading the body were answered by closing the connection.
TEST_F(ServerFixture, BodyFramingErrorsAreAnswered400) {
    start({}, [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    const std::string head =
        "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (const std::string chunk :
         {"zz\r\n{}\r\n0\r\n\r\n", "-f\r\n{}\r\n0\r\n\r\n",
          "ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", "2\r\n{}}}}}\r\n0\r\n\r\n"}) {
        const auto got = exchange(server_->port(), head + chunk);
        EXPECT_EQ(status_of(got), 400) << chunk << " -> " << got;
        EXPECT_NE(got.find(R"("success":false)"), std::string::npos) << got;
    }
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
}

TEST_F(ServerFixture, BodyShorterThanContentLengthIs408) {
    ServerOptions o;
    o.request_timeout = std::chrono::milliseconds(300);
    start(o, [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    const auto got = exchange(server_->port(),
                              "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: 10\r\n\r\n{}");
    EXPECT_EQ(status_of(got), 408) << got;
}

TEST_F(ServerFixture, SecondRequestOnAConnectionHasRequestTimeoutFromItsFirstByte) {
    ServerOptions o;
    o.request_timeout = std::chrono::milliseconds(300);
    o.idle_timeout = std::chrono::seconds(30);
    start(o, [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    KeptAliveConnection conn(server_->port());
    auto& sock = conn.sock;
    // The second request's header is dripped and never finished: cut after request_timeout,
    // not after the 30 s idle timeout.
    asio::write(sock, asio::buffer(std::string("GET /b HTTP/1.1\r\n")));
    const auto started = std::chrono::steady_clock::now();
    std::string rest;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
        const auto n = sock.read_some(asio::buffer(buf), ec);
        rest.append(buf, n);
        if (ec) {
            break;
        }
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_NE(rest.find("408"), std::string::npos) << rest;
}

TEST_F(ServerFixture, HttpDetails) {
    auto router = std::make_shared<Router>();
    router->add("GET", "/healthz", [](Request&) -> asio::awaitable<Response> {
        Response r;
        r.body = R"({"ok":true})";
        co_return r;
    });
    router->add("POST", "/echo", [](Request& req) -> asio::awaitable<Response> {
        Response r;
        r.body = req.body;
        co_return r;
    });
    start({}, [router](Request& req) { return router->dispatch(req, false); });
    const auto port = server_->port();
    // HTTP/1.1 without Host is a 400 (RFC 9112 §3.2).
    EXPECT_EQ(status_of(exchange(port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")), 400);
    // Absolute form routes by its path.
    EXPECT_EQ(status_of(exchange(port,
                                 "GET http://example/healthz HTTP/1.1\r\nHost: example\r\n"
                                 "Connection: close\r\n\r\n")),
              200);
    // HEAD: GET's Content-Length, no body.
    const auto head =
        exchange(port, "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(head), 200);
    EXPECT_NE(head.find("Content-Length: 11\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "");
    // A transfer coding we do not decode is refused, not ignored.
    EXPECT_EQ(status_of(exchange(port,
                                 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                 "gzip, chunked\r\n\r\n0\r\n\r\n")),
              501);
    // HTTP/1.0 keep-alive is answered with Connection: keep-alive and the connection stays open.
    const auto ka = exchange(port,
                             "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                             "GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_NE(ka.find("Connection: keep-alive"), std::string::npos) << ka;
    EXPECT_NE(ka.find("HTTP/1.1 200", ka.find("keep-alive")), std::string::npos) << ka;
    // Expect: 100-continue gets its interim answer before the body is sent.
    asio::io_context client;
    asio::ip::tcp::socket sock(client);
    sock.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(sock, asio::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                               "2\r\nExpect: 100-continue\r\n\r\n")));
    asio::streambuf interim;
    asio::read_until(sock, interim, "\r\n\r\n");
    EXPECT_EQ(
        std::string(asio::buffers_begin(interim.data()), asio::buffers_begin(interim.data()) + 25),
        "HTTP/1.1 100 Continue\r\n\r\n");
    asio::write(sock, asio::buffer(std::string("{}")));
    asio::read_until(sock, interim, "{}");
}

TEST_F(ServerFixture, DrainDeadlineAnswersInFlightRequestsWith503) {
    auto release = std::make_shared<std::atomic<bool>>(false);
    start({}, [release](Request&) -> asio::awaitable<Response> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        while (!*release) {
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(asio::use_awaitable);
        }
        co_return Response{};
    });
    std::string got;
    std::thread client(
        [&] { got = exchange(server_->port(), "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); });
    ASSERT_TRUE(test::eventually([&] { return server_->active_connections() == 1; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    server_->begin_drain();
    EXPECT_EQ(server_->abort_in_flight(), 1U);
    client.join();
    *release = true;
    EXPECT_EQ(status_of(got), 503) << got;
    EXPECT_NE(got.find("shutting_down"), std::string::npos) << got;
    EXPECT_NE(got.find("Retry-After: 1"), std::string::npos) << got;
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
}

// Probe D2 (the server's half): a client that closes while its request is handled is logged as
// 499 and the handler's on_undelivered runs, so it can release what it reserved.
TEST_F(ServerFixture, ClientGoneBeforeTheAnswerRunsOnUndelivered) {
    auto undelivered = std::make_shared<std::atomic<int>>(0);
    auto gone_seen = std::make_shared<std::atomic<bool>>(false);
    auto statuses = std::make_shared<std::vector<int>>();
    auto mu = std::make_shared<std::mutex>();
    ServerOptions o;
    o.on_complete = [statuses, mu](const Request&, int status, double) {
        std::lock_guard lock(*mu);
        statuses->push_back(status);
    };
    start(o, [undelivered, gone_seen](Request& req) -> asio::awaitable<Response> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 50 && !client_gone(req); ++i) {
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(asio::use_awaitable);
        }
        *gone_seen = client_gone(req);
        Response r;
        r.on_undelivered = [undelivered]() -> asio::awaitable<void> {
            ++*undelivered;
            co_return;
        };
        co_return r;
    });
    {
        asio::io_context client;
        asio::ip::tcp::socket sock(client);
        sock.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
        asio::write(sock, asio::buffer(std::string("GET /t HTTP/1.1\r\nHost: x\r\n\r\n")));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }  // closed before the answer
    ASSERT_TRUE(test::eventually([&] { return undelivered->load() == 1; }));
    EXPECT_TRUE(gone_seen->load());
    {
        std::lock_guard lock(*mu);
        ASSERT_EQ(statuses->size(), 1U);
        EXPECT_EQ(statuses->front(), 499);
    }
    // A client that stays gets its answer and on_undelivered does not run.
    EXPECT_EQ(status_of(exchange(server_->port(),
                                 "GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
              200);
    EXPECT_EQ(undelivered->load(), 1);
    std::lock_guard lock(*mu);
    EXPECT_EQ(statuses->back(), 200);
}

}  // namespace
}  // namespace voicegate::http
