#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "http/message.hpp"

namespace voicegate::http {

/// The request handler a Server calls for every request. It runs on the connection's event
/// loop and must not block.
using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

/// Limits and timeouts of a Server.
struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0 picks a free port
    std::size_t body_limit = 64 * 1024;
    std::size_t header_limit = 16 * 1024;
    std::chrono::milliseconds request_timeout{10'000};  // to receive a whole request
    std::chrono::milliseconds idle_timeout{75'000};     // keep-alive idle between requests
    std::chrono::milliseconds write_timeout{30'000};
    std::chrono::milliseconds hang_limit{600'000};  // Action::hang holds at most this long
    std::string name = "http";                      // names the server in logs
    bool access_log = true;
    bool trust_request_id = true;  // reuse a sane incoming X-Request-Id
    /// Called on the connection's loop after each response is written (or failed to write),
    /// with the status sent and the time from the request's arrival; for metrics. Must be
    /// cheap and must not block.
    std::function<void(const Request&, int status, double seconds)> on_complete;
};

/// An HTTP/1.1 server on Boost.Beast: one SO_REUSEPORT listener per event loop (share-nothing),
/// keep-alive, header/body limits, timeouts, X-Request-Id, access log, graceful drain.
/// Thread safety: start/stop/drain may be called from any thread; connections live on their
/// loop's thread.
class Server {
public:
    /// Binds the listeners; throws std::runtime_error naming the address if it cannot
    /// (a startup failure).
    Server(const std::vector<boost::asio::io_context*>& loops, ServerOptions options,
           Handler handler);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// The bound port (useful with port 0).
    std::uint16_t port() const;
    /// "host:port" actually bound.
    std::string address() const;
    /// Starts accepting on every loop.
    void start();
    /// Stops accepting, closes idle keep-alive connections and makes busy ones close after their
    /// current response. Returns at once; poll active_connections() to wait.
    void begin_drain();
    /// At the drain deadline: answers every request still being read or handled with a 503
    /// `shutting_down` (Retry-After: 1, Connection: close) instead of dropping it, and closes its
    /// connection; the handlers' results are then discarded (their on_undelivered runs).
    /// Blocks until each running loop has done so (at most about a second). Returns how many.
    std::size_t abort_in_flight();
    /// Connections currently open.
    std::size_t active_connections() const;
    /// Connections accepted since start (for benchmarks: counts TCP handshakes).
    std::uint64_t connections_accepted() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace voicegate::http
