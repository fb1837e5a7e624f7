#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/error.hpp"
#include "ratelimit/redis_url.hpp"

namespace voicegate::ratelimit {

/// One Redis reply (RESP2), copied out of hiredis's parser.
struct RedisReply {
    enum class Type { nil, integer, string, status, error, array };
    Type type = Type::nil;
    std::int64_t integer = 0;
    std::string str;                   // string, status and error replies
    std::vector<RedisReply> elements;  // array replies

    bool is_error() const { return type == Type::error; }
};

/// Encodes `argv` as one RESP command (hiredis's formatter; arguments are binary-safe). Pure.
std::string encode_redis_command(const std::vector<std::string>& argv);

/// How a RedisConnection connects and reconnects.
struct RedisConnectionOptions {
    RedisUrl url;
    /// Sent after AUTH / SELECT on every (re)connect, before any command (e.g. SCRIPT LOAD);
    /// an error reply to any of them fails the connect.
    std::vector<std::vector<std::string>> setup;
    std::chrono::milliseconds connect_timeout{1000};  // resolve + TCP + AUTH/SELECT/setup
    std::chrono::milliseconds backoff_min{100};       // first wait after a failed connect
    std::chrono::milliseconds backoff_max{2000};      // doubling up to this (plus <= 25% jitter)
    /// Called on the connection's loop when a connect succeeds (`up`), fails, or an established
    /// connection is lost (`!up`, with a reason that never holds the password).
    std::function<void(bool up, const std::string& why)> on_state;
};

/// One pipelined connection to Redis, owned by one event loop: hiredis's RESP parser and
/// formatter over an Asio TCP socket, so nothing ever blocks the loop.
///
/// Commands from any number of coroutines on the loop are queued, written back to back in one
/// write while the previous write is in flight, and matched to replies in order (Redis answers
/// a connection's commands in order). Each command has a deadline: a waiter that passes it gets
/// `store_unavailable` at once; if its command was already sent, the connection is presumed
/// hung and is reset (its reply, if any, is dropped).
///
/// Connecting is lazy (first command, or `start()`), bounded by `connect_timeout`. After a
/// failed connect, commands fail at once until the backoff has passed (100 ms doubling to 2 s
/// by default); the next command then tries again. A lost connection fails the commands sent
/// on it (they may have run) and re-sends the unsent ones on a new connection.
///
/// Thread safety: `command` and `connected` only from a coroutine or handler on `loop` (one
/// thread runs it); `start` and `close` from any thread (they post to the loop). The object
/// may be destroyed while operations are pending: they keep its state alive.
class RedisConnection {
public:
    /// Does not connect yet. `loop` must outlive every pending operation.
    RedisConnection(boost::asio::io_context& loop, RedisConnectionOptions options);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    /// Sends one command and returns its reply (an error reply is a value: check is_error()),
    /// or `store_unavailable` (details say why) when there is no connection, no reply before
    /// `deadline`, or the connection is lost. Must be co_awaited on the connection's loop.
    boost::asio::awaitable<Result<RedisReply>> command(
        std::vector<std::string> argv, std::chrono::steady_clock::time_point deadline);

    /// Starts connecting now if not connected (posts to the loop). Thread-safe.
    void start();

    /// Closes for good (posts to the loop): pending and later commands fail, no reconnects.
    /// Idempotent; thread-safe.
    void close();

    /// True while a connection is established. Loop thread only.
    bool connected() const;

    /// Connections established since construction. Loop thread only (tests, diagnostics).
    std::uint64_t connects() const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace voicegate::ratelimit
