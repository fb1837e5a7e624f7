#include "support/ws_test_client.hpp"

#include <cctype>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

namespace voicegate::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string s) {
    for (auto& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}
}  // namespace

struct WsTestClient::Impl {
    asio::io_context ioc;
    std::optional<websocket::stream<beast::tcp_stream>> ws;
    std::thread thread;
    bool open = false;

    mutable std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::string> messages;
    Closed end;

    ~Impl() {
        if (thread.joinable()) {
            asio::post(ioc, [this] {
                boost::system::error_code ig;
                beast::get_lowest_layer(*ws).socket().close(ig);
            });
            thread.join();
        }
    }

    asio::awaitable<void> read_loop() {
        for (;;) {
            beast::flat_buffer buffer;
            auto [ec, n] = co_await ws->async_read(buffer, kUseTuple);
            std::lock_guard lock(mutex);
            if (ec) {
                end.ended = true;
                if (ec == websocket::error::closed) {
                    end.close_frame = true;
                    end.code = static_cast<int>(ws->reason().code);
                    end.reason = std::string(ws->reason().reason.c_str());
                } else {
                    end.error = ec.message();
                }
                cv.notify_all();
                co_return;
            }
            messages.push_back(beast::buffers_to_string(buffer.data()));
            cv.notify_all();
        }
    }
};

WsTestClient::WsTestClient() : impl_(std::make_unique<Impl>()) {}

WsTestClient::~WsTestClient() = default;

WsTestClient::Handshake WsTestClient::connect(
    std::uint16_t port, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout) {
    Handshake out;
    auto& ws = impl_->ws.emplace(impl_->ioc);
    auto& stream = beast::get_lowest_layer(ws);
    websocket::response_type res;
    auto run = [&]() -> asio::awaitable<boost::system::error_code> {
        stream.expires_after(timeout);
        auto [cec] = co_await stream.async_connect(
            tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kUseTuple);
        if (cec) {
            co_return cec;
        }
        ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
            for (const auto& [k, v] : headers) {
                req.set(k, v);
            }
        }));
        auto [hec] = co_await ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), target,
                                                 kUseTuple);
        co_return hec;
    };
    auto done = asio::co_spawn(impl_->ioc, run(), asio::use_future);
    impl_->ioc.run();
    impl_->ioc.restart();
    const auto ec = done.get();
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
        out.headers.emplace(lower(std::string(f.name_string())), std::string(f.value()));
    }
    out.body = res.body();
    if (ec) {
        out.error = ec.message();
        if (out.status == 101) {
            out.status = 0;
        }
        return out;
    }
    stream.expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    impl_->open = true;
    asio::co_spawn(impl_->ioc, impl_->read_loop(), asio::detached);
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
    return out;
}

bool WsTestClient::send(const std::string& text) {
    if (!impl_->open) {
        return false;
    }
    // Arguments, not captures: they live in the coroutine frame however long it runs.
    auto write = [](Impl* impl, std::string message) -> asio::awaitable<bool> {
        impl->ws->text(true);
        auto [ec, n] = co_await impl->ws->async_write(asio::buffer(message), kUseTuple);
        co_return !ec;
    };
    auto f = asio::co_spawn(impl_->ioc, write(impl_.get(), text), asio::use_future);
    if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        return false;
    }
    return f.get();
}

bool WsTestClient::send_json(const boost::json::object& event) {
    return send(boost::json::serialize(event));
}

std::optional<std::string> WsTestClient::receive(std::chrono::milliseconds timeout) {
    std::unique_lock lock(impl_->mutex);
    impl_->cv.wait_for(lock, timeout,
                       [this] { return !impl_->messages.empty() || impl_->end.ended; });
    if (impl_->messages.empty()) {
        return std::nullopt;
    }
    std::string m = std::move(impl_->messages.front());
    impl_->messages.pop_front();
    return m;
}

std::optional<boost::json::object> WsTestClient::receive_json(std::chrono::milliseconds timeout) {
    auto text = receive(timeout);
    if (!text) {
        return std::nullopt;
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(*text, ec);
    if (ec || !v.is_object()) {
        return std::nullopt;
    }
    return std::move(v.get_object());
}

std::optional<boost::json::object> WsTestClient::receive_type(
    const std::string& type, std::chrono::milliseconds timeout,
    std::vector<boost::json::object>* skipped) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        auto event = receive_json(left);
        if (!event) {
            return std::nullopt;
        }
        const auto* t = event->if_contains("type");
        if (t != nullptr && t->is_string() && t->get_string() == type) {
            return event;
        }
        if (skipped != nullptr) {
            skipped->push_back(std::move(*event));
        }
    }
}

bool WsTestClient::silent_for(std::chrono::milliseconds quiet) {
    std::unique_lock lock(impl_->mutex);
    impl_->cv.wait_for(lock, quiet,
                       [this] { return !impl_->messages.empty() || impl_->end.ended; });
    return impl_->messages.empty() && !impl_->end.ended;
}

WsTestClient::Closed WsTestClient::wait_closed(std::chrono::milliseconds timeout) {
    std::unique_lock lock(impl_->mutex);
    impl_->cv.wait_for(lock, timeout, [this] { return impl_->end.ended; });
    impl_->messages.clear();
    return impl_->end;
}

WsTestClient::Closed WsTestClient::closed() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->end;
}

void WsTestClient::close(int code) {
    if (!impl_->open) {
        return;
    }
    auto run = [](Impl* impl, int close_code) -> asio::awaitable<void> {
        co_await impl->ws->async_close(
            websocket::close_reason(static_cast<websocket::close_code>(close_code)), kUseTuple);
    };
    auto f = asio::co_spawn(impl_->ioc, run(impl_.get(), code), asio::use_future);
    f.wait_for(std::chrono::seconds(5));
}

}  // namespace voicegate::test
