#include "support/tcp_proxy.hpp"

#include <array>
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace voicegate::test {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

struct Session {
    explicit Session(asio::io_context& ctx) : client(ctx), server(ctx) {}
    tcp::socket client;
    tcp::socket server;
    void close() {
        boost::system::error_code ignored;
        client.close(ignored);
        server.close(ignored);
    }
};

}  // namespace

struct TcpProxy::Impl : std::enable_shared_from_this<Impl> {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
    tcp::acceptor acceptor{ioc};
    tcp::endpoint target;
    std::uint16_t port = 0;
    Mode mode = Mode::forward;  // ioc thread only
    std::atomic<std::uint64_t> accepted{0};
    std::vector<std::weak_ptr<Session>> sessions;
    std::thread thread;

    void listen() {
        acceptor.open(tcp::v4());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        acceptor.listen();
        port = acceptor.local_endpoint().port();
        asio::co_spawn(ioc, accept_loop(shared_from_this()), asio::detached);
    }

    void drop_sessions() {
        for (auto& w : sessions) {
            if (auto s = w.lock()) {
                s->close();
            }
        }
        sessions.clear();
    }

    static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
        for (;;) {
            auto [ec, sock] = co_await self->acceptor.async_accept(kUseTuple);
            if (ec) {
                co_return;
            }
            ++self->accepted;
            auto s = std::make_shared<Session>(self->ioc);
            s->client = std::move(sock);
            self->sessions.push_back(s);
            asio::co_spawn(self->ioc, run_session(self, s), asio::detached);
        }
    }

    static asio::awaitable<void> run_session(std::shared_ptr<Impl> self,
                                             std::shared_ptr<Session> s) {
        if (self->mode == Mode::reset) {
            s->close();
            co_return;
        }
        if (self->mode == Mode::hang) {
            co_await pump(self, s, s->client, nullptr);
            co_return;
        }
        auto [ec] = co_await s->server.async_connect(self->target, kUseTuple);
        if (ec) {
            s->close();
            co_return;
        }
        asio::co_spawn(self->ioc, pump(self, s, s->server, &s->client), asio::detached);
        co_await pump(self, s, s->client, &s->server);
    }

    // Relays from -> to while forwarding; reads and drops otherwise (or when `to` is null).
    static asio::awaitable<void> pump(std::shared_ptr<Impl> self, std::shared_ptr<Session> s,
                                      tcp::socket& from, tcp::socket* to) {
        std::array<char, 8192> buf{};
        for (;;) {
            auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kUseTuple);
            if (ec) {
                s->close();
                co_return;
            }
            if (to == nullptr || self->mode != Mode::forward) {
                continue;
            }
            auto [wec, written] =
                co_await asio::async_write(*to, asio::buffer(buf.data(), n), kUseTuple);
            if (wec) {
                s->close();
                co_return;
            }
        }
    }
};

TcpProxy::TcpProxy(std::string host, std::uint16_t port) : impl_(std::make_shared<Impl>()) {
    impl_->target = tcp::endpoint(asio::ip::make_address(host), port);
    impl_->listen();
    impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

TcpProxy::~TcpProxy() {
    // Closing everything lets every coroutine finish, so the loop runs out of work and no frame
    // (each holds the Impl) outlives it.
    set_mode(Mode::refuse);
    impl_->guard.reset();
    impl_->thread.join();
}

std::uint16_t TcpProxy::port() const {
    return impl_->port;
}

std::uint64_t TcpProxy::accepted() const {
    return impl_->accepted.load();
}

void TcpProxy::set_mode(Mode mode) {
    std::promise<void> done;
    asio::post(impl_->ioc, [impl = impl_.get(), mode, &done] {
        impl->mode = mode;
        if (mode == Mode::refuse) {
            boost::system::error_code ignored;
            impl->acceptor.close(ignored);
        }
        if (mode == Mode::refuse || mode == Mode::reset) {
            impl->drop_sessions();
        }
        if (mode != Mode::refuse && !impl->acceptor.is_open()) {
            impl->listen();
        }
        done.set_value();
    });
    done.get_future().wait();
}

}  // namespace voicegate::test
