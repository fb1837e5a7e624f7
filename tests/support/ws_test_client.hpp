#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

namespace voicegate::test {

/// A WebSocket client for tests (Beast, plain TCP, real sockets). One connection per object; a
/// thread of its own reads every message into a queue, so receive() can wait with a timeout and
/// the close code/reason (or the lack of a close frame) is recorded. Use from one test thread.
class WsTestClient {
public:
    /// The HTTP answer to the upgrade request.
    struct Handshake {
        int status = 0;  // 101 when upgraded; else the refusal's status (0: no answer)
        std::multimap<std::string, std::string> headers;  // lowercase names
        std::string body;                                 // a refusal's body
        std::string error;  // transport or handshake error, empty on 101
        /// The first header named `name` (lowercase) or "".
        std::string header(const std::string& name) const {
            auto it = headers.find(name);
            return it == headers.end() ? std::string() : it->second;
        }
    };

    /// How the connection ended.
    struct Closed {
        bool ended = false;        // the connection is over
        bool close_frame = false;  // the server sent a close frame (then code/reason are set)
        int code = 0;
        std::string reason;
        std::string error;  // without a close frame: what the read failed with
    };

    WsTestClient();
    ~WsTestClient();
    WsTestClient(const WsTestClient&) = delete;
    WsTestClient& operator=(const WsTestClient&) = delete;

    /// Connects to 127.0.0.1:`port` and asks to upgrade `target` with `headers`. On 101 the
    /// reader starts. Blocking, at most `timeout`.
    Handshake connect(std::uint16_t port, const std::string& target,
                      const std::vector<std::pair<std::string, std::string>>& headers = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

    /// Sends a text message; false if the connection is not open or the write failed.
    bool send(const std::string& text);
    /// Sends `event` as JSON text.
    bool send_json(const boost::json::object& event);

    /// The next text message within `timeout`, or nullopt (timeout, or the connection ended:
    /// see closed()).
    std::optional<std::string> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// The next message parsed as a JSON object (nullopt as for receive(), or not an object).
    std::optional<boost::json::object> receive_json(
        std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// The next message whose "type" is `type`, skipping (and appending to `skipped`, if given)
    /// the others; nullopt if none came within `timeout` or the connection ended.
    std::optional<boost::json::object> receive_type(
        const std::string& type, std::chrono::milliseconds timeout = std::chrono::seconds(5),
        std::vector<boost::json::object>* skipped = nullptr);
    /// Whether no message arrives within `quiet` (the connection staying open).
    bool silent_for(std::chrono::milliseconds quiet);

    /// Waits (reading and discarding messages) until the connection ends, at most `timeout`;
    /// returns how it ended (`ended` false on timeout).
    Closed wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// What is known so far about the end of the connection.
    Closed closed() const;

    /// Sends a close frame (`code`) and waits for the handshake to finish (at most 5 s).
    void close(int code = 1000);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace voicegate::test
