#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace voicegate::test {

/// A loopback TCP proxy in front of a real server (e.g. the test Redis), for outage tests
/// without touching the server other tests share. Runs on its own thread.
class TcpProxy {
public:
    enum class Mode {
        forward,  // relay both ways
        refuse,   // port closed (connection refused); open connections are dropped
        hang,     // accept and read, never answer; open connections stop relaying
        reset,    // accept and close at once; open connections are dropped
    };

    /// Listens on 127.0.0.1:0 and forwards to `host`:`port`.
    TcpProxy(std::string host, std::uint16_t port);
    ~TcpProxy();
    TcpProxy(const TcpProxy&) = delete;
    TcpProxy& operator=(const TcpProxy&) = delete;

    /// The listening port (kept across refuse -> forward).
    std::uint16_t port() const;

    /// Switches mode; returns once applied. Thread-safe.
    void set_mode(Mode mode);

    /// Connections accepted so far. Thread-safe.
    std::uint64_t accepted() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace voicegate::test
