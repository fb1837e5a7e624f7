#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace voicegate::test {

/// A sideband WebSocket server on 127.0.0.1:0 playing the upstream (OpenAI's
/// `/v1/realtime?call_id=`), for tests of the sideband client and the supervisor. Each
/// connection is first shown to `admit` (0: accept the upgrade; an HTTP status: refuse it with
/// that status), then, once accepted, run by `script` on the server's own thread.
class FakeSidebandServer {
public:
    /// One accepted sideband, for the script (use only from the script's coroutine).
    class Conn {
    public:
        virtual ~Conn() = default;
        /// The upgrade request's target and headers (empty when absent).
        virtual const std::string& target() const = 0;
        virtual const std::string& authorization() const = 0;
        virtual const std::string& openai_beta() const = 0;
        /// The next text message; nullopt when the client closed or the connection broke, or
        /// nothing came within `limit`.
        virtual boost::asio::awaitable<std::optional<std::string>> read(
            std::chrono::milliseconds limit = std::chrono::seconds(10)) = 0;
        /// Whether the last read ended with the client's close frame.
        virtual bool closed_by_client() const = 0;
        virtual boost::asio::awaitable<void> send(std::string text) = 0;
        /// A close frame with `code` and `reason`.
        virtual boost::asio::awaitable<void> close(int code, std::string reason) = 0;
        /// Closes the TCP connection without a close frame (a drop).
        virtual void drop() = 0;
        /// Waits until `pred` holds (polled every 10 ms) or `limit` passed; returns pred().
        virtual boost::asio::awaitable<bool> wait_for(
            std::function<bool()> pred,
            std::chrono::milliseconds limit = std::chrono::seconds(10)) = 0;
    };
    using Admit = std::function<int(int index)>;  // index: 0 for the first connection
    using Script = std::function<boost::asio::awaitable<void>(Conn& conn, int index)>;

    FakeSidebandServer(Admit admit, Script script);
    ~FakeSidebandServer();
    FakeSidebandServer(const FakeSidebandServer&) = delete;
    FakeSidebandServer& operator=(const FakeSidebandServer&) = delete;

    std::uint16_t port() const;
    /// `http://127.0.0.1:PORT/v1`.
    std::string base_url() const;
    /// Upgrade requests seen, accepted or not.
    int connections() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace voicegate::test
