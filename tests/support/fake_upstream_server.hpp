#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "http/message.hpp"
#include "http/server.hpp"

namespace voicegate::test {

/// Options of a FakeUpstreamServer.
struct FakeUpstreamOptions {
    bool tls = false;       // serve HTTPS with cert_file/key_file instead of plain HTTP
    std::string cert_file;  // PEM certificate chain (see TestCerts)
    std::string key_file;   // PEM private key
    std::chrono::milliseconds idle_timeout{75'000};  // keep-alive idle before the server closes
};

/// A scripted stand-in for the OpenAI API on 127.0.0.1:0, with its own io_context and thread.
/// Every request is recorded (method, target, path, lowercase headers, body), then answered by
/// the script; `Response::action` injects faults (reset, hang). Plain mode runs on
/// voicegate::http::Server; TLS mode on a small Beast TLS acceptor that also records the SNI
/// name of each handshake.
/// Thread safety: all methods may be called from any thread while it runs; the script runs on
/// the server's thread.
class FakeUpstreamServer {
public:
    /// Produces the answer to one request.
    using Script = std::function<http::Response(const http::Request&)>;

    /// Starts listening at once. Throws std::runtime_error if it cannot.
    explicit FakeUpstreamServer(Script script, FakeUpstreamOptions options = {});
    /// Stops the loop and joins its thread.
    ~FakeUpstreamServer();
    FakeUpstreamServer(const FakeUpstreamServer&) = delete;
    FakeUpstreamServer& operator=(const FakeUpstreamServer&) = delete;

    /// The bound port.
    std::uint16_t port() const { return port_; }
    /// "http(s)://HOST:PORT/v1".
    std::string base_url(std::string_view host = "127.0.0.1") const;
    /// Replaces the script (takes effect for the next request).
    void set_script(Script script);
    /// Delays every answer by `delay` (after recording the request).
    void set_delay(std::chrono::milliseconds delay);
    /// Copies of the requests received so far, in arrival order.
    std::vector<http::Request> requests() const;
    /// Number of requests received so far.
    std::size_t request_count() const;
    /// TCP connections accepted so far.
    std::uint64_t connections_accepted() const;
    /// SNI host names of the completed TLS handshakes ("" when the client sent none).
    std::vector<std::string> tls_server_names() const;

private:
    struct Tls;
    friend struct Tls;
    http::Response answer(const http::Request& req);
    std::chrono::milliseconds delay() const;

    FakeUpstreamOptions options_;
    boost::asio::io_context ioc_;
    std::unique_ptr<http::Server> plain_;
    std::shared_ptr<Tls> tls_;
    std::uint16_t port_ = 0;
    std::thread thread_;

    mutable std::mutex mutex_;
    Script script_;
    std::vector<http::Request> requests_;
    std::vector<std::string> sni_;
    std::atomic<std::int64_t> delay_ms_{0};
};

/// A 200 answer in the GA `/realtime/client_secrets` shape (session type realtime, audio output
/// voice as given; `voice` empty leaves it out).
http::Response client_secret_response(std::string value = "ek_0123456789abcdef0123456789abcdef",
                                      std::int64_t expires_at = 1790000120,
                                      std::string session_id = "sess_AbCdEf123",
                                      std::string model = "gpt-realtime",
                                      std::string voice = "marin");

/// An OpenAI error answer `{"error":{message,type,param:null,code}}` with `status`
/// (`code` empty -> null).
http::Response openai_error_response(int status, std::string type, std::string code,
                                     std::string message);

}  // namespace voicegate::test
