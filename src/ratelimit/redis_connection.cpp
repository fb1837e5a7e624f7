#include "ratelimit/redis_connection.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <hiredis/hiredis.h>

namespace voicegate::ratelimit {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

// A named completion token: GCC 12 miscompiles temporaries built inside a co_await expression.
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

RedisReply copy_reply(const redisReply& r) {
    RedisReply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::string;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::status;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = RedisReply::Type::error;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::integer;
            out.integer = r.integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::array;
            out.elements.reserve(r.elements);
            for (std::size_t i = 0; i < r.elements; ++i) {
                out.elements.push_back(copy_reply(*r.element[i]));
            }
            break;
        default:
            out.type = RedisReply::Type::nil;
            break;
    }
    return out;
}

Failure unavailable(std::string why) {
    return fail(Error::store_unavailable, {}, "redis: " + std::move(why));
}

// One command waiting for its reply. The waiter sleeps on `timer` (set to the deadline); the
// reader sets `outcome` and cancels the timer to wake it.
struct Call {
    explicit Call(const asio::any_io_executor& ex) : timer(ex) {}
    std::string bytes;
    asio::steady_timer timer;
    std::optional<Result<RedisReply>> outcome;
    bool abandoned = false;  // the waiter gave up: drop the reply
    bool sent = false;
};
using CallPtr = std::shared_ptr<Call>;

void complete(Call& call, Result<RedisReply> outcome) {
    if (call.abandoned || call.outcome) {
        return;
    }
    call.outcome = std::move(outcome);
    call.timer.cancel();
}

// One TCP connection (one "generation"): stale handlers of an old one compare their Link with
// the current one and stand down.
struct Link {
    explicit Link(asio::io_context& ctx)
        : socket(ctx), resolver(ctx), reader(redisReaderCreate()) {}
    ~Link() {
        if (reader != nullptr) {
            redisReaderFree(reader);
        }
    }
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    tcp::socket socket;
    tcp::resolver resolver;
    redisReader* reader;
    std::deque<CallPtr> inflight;  // written, waiting for replies, in order
    bool writing = false;
    bool timed_out = false;    // the connect watchdog fired
    bool established = false;  // the connect finished: the watchdog must not touch it
};
using LinkPtr = std::shared_ptr<Link>;

// Replies read during the connect handshake, or why they could not be read.
struct HandshakeReplies {
    std::vector<RedisReply> replies;
    std::string error;  // empty on success
};

// Reads replies from `link` until `count` have arrived (used for the connect handshake).
asio::awaitable<HandshakeReplies> read_replies(Link& link, std::size_t count) {
    HandshakeReplies out;
    std::array<char, 4096> buf{};
    while (out.replies.size() < count) {
        void* raw = nullptr;
        if (redisReaderGetReply(link.reader, &raw) != REDIS_OK) {
            out.error = std::string("protocol error: ") + link.reader->errstr;
            co_return out;
        }
        if (raw != nullptr) {
            out.replies.push_back(copy_reply(*static_cast<redisReply*>(raw)));
            freeReplyObject(raw);
            continue;
        }
        auto [ec, n] = co_await link.socket.async_read_some(asio::buffer(buf), kUseTuple);
        if (ec) {
            out.error = link.timed_out ? std::string("handshake timed out")
                                       : "connection lost during the handshake: " + ec.message();
            co_return out;
        }
        redisReaderFeed(link.reader, buf.data(), n);
    }
    co_return out;
}

}  // namespace

std::string encode_redis_command(const std::vector<std::string>& argv) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    char* out = nullptr;
    const int n =
        redisFormatCommandArgv(&out, static_cast<int>(argv.size()), ptrs.data(), lens.data());
    std::string bytes;
    if (n > 0 && out != nullptr) {
        bytes.assign(out, static_cast<std::size_t>(n));
    }
    redisFreeCommand(out);
    return bytes;
}

struct RedisConnection::State : std::enable_shared_from_this<State> {
    State(asio::io_context& c, RedisConnectionOptions o)
        : ctx(c), opts(std::move(o)), backoff(opts.backoff_min), rng(std::random_device{}()) {
        std::vector<std::vector<std::string>> hello;
        if (!opts.url.password.empty()) {
            if (opts.url.username.empty()) {
                hello.push_back({"AUTH", opts.url.password});
            } else {
                hello.push_back({"AUTH", opts.url.username, opts.url.password});
            }
        }
        if (opts.url.db != 0) {
            hello.push_back({"SELECT", std::to_string(opts.url.db)});
        }
        for (const auto& cmd : opts.setup) {
            hello.push_back(cmd);
        }
        setup_count = hello.size();
        for (const auto& cmd : hello) {
            setup_bytes += encode_redis_command(cmd);
        }
        endpoint_text = opts.url.host + ":" + std::to_string(opts.url.port);
    }

    asio::io_context& ctx;
    RedisConnectionOptions opts;
    std::string setup_bytes;  // AUTH, SELECT and setup commands, encoded; holds the password
    std::size_t setup_count = 0;
    std::string endpoint_text;
    LinkPtr link;                 // the established connection, if any
    LinkPtr connecting;           // the connect in progress, if any
    std::vector<CallPtr> queued;  // not yet written
    SteadyClock::time_point retry_at{};
    std::chrono::milliseconds backoff;
    std::string last_error = "not connected";
    std::minstd_rand rng;
    std::uint64_t connect_count = 0;
    bool closed = false;

    void notify(bool up, const std::string& why) const {
        if (opts.on_state && !closed) {  // closing on purpose is not an outage
            opts.on_state(up, why);
        }
    }

    void submit(const CallPtr& call) {
        if (closed) {
            complete(*call, unavailable("connection closed"));
            return;
        }
        if (!link && !connecting) {
            const auto now = SteadyClock::now();
            if (now < retry_at) {
                const auto wait =
                    std::chrono::duration_cast<std::chrono::milliseconds>(retry_at - now).count();
                complete(*call, unavailable(last_error + " (next attempt in " +
                                            std::to_string(wait) + " ms)"));
                return;
            }
            start_connect();
        }
        queued.push_back(call);
        flush();
    }

    void start_connect() {
        if (closed || link || connecting) {
            return;
        }
        connecting = std::make_shared<Link>(ctx);
        asio::co_spawn(ctx, connect(shared_from_this(), connecting), asio::detached);
    }

    // Connects, authenticates, selects the database and runs the setup commands, all within
    // connect_timeout; then starts the reader and sends what is queued.
    static asio::awaitable<void> connect(std::shared_ptr<State> self, LinkPtr l) {
        asio::steady_timer watchdog(self->ctx);
        watchdog.expires_after(self->opts.connect_timeout);
        watchdog.async_wait([l](const boost::system::error_code& ec) {
            if (!ec && !l->established) {
                l->timed_out = true;
                boost::system::error_code ignored;
                l->socket.close(ignored);
                l->resolver.cancel();
            }
        });
        auto failed = co_await self->open(*l);
        l->established = true;
        watchdog.cancel();
        if (self->connecting != l) {
            co_return;  // closed meanwhile
        }
        if (failed) {
            self->connect_failed(*failed);
            co_return;
        }
        self->connecting.reset();
        self->link = l;
        self->backoff = self->opts.backoff_min;
        ++self->connect_count;
        self->notify(true, {});
        asio::co_spawn(self->ctx, read_loop(self, l), asio::detached);
        self->flush();
    }

    // The connect steps; the reason on failure, never holding the password.
    asio::awaitable<std::optional<std::string>> open(Link& l) const {
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(opts.url.host, ec);
        std::vector<tcp::endpoint> endpoints;
        if (!ec) {
            endpoints.emplace_back(address, opts.url.port);
        } else {
            // getaddrinfo runs on Asio's resolver thread; the watchdog bounds the wait.
            const std::string port = std::to_string(opts.url.port);
            auto [rec, results] = co_await l.resolver.async_resolve(opts.url.host, port, kUseTuple);
            if (rec) {
                co_return l.timed_out ? "resolving " + opts.url.host + " timed out"
                                      : "cannot resolve " + opts.url.host + ": " + rec.message();
            }
            for (const auto& r : results) {
                endpoints.push_back(r.endpoint());
            }
        }
        auto [cec, ep] = co_await asio::async_connect(l.socket, endpoints, kUseTuple);
        if (cec) {
            co_return l.timed_out ? "connect to " + endpoint_text + " timed out"
                                  : "cannot connect to " + endpoint_text + ": " + cec.message();
        }
        l.socket.set_option(tcp::no_delay(true), ec);
        if (setup_count == 0) {
            co_return std::nullopt;
        }
        auto [wec, written] =
            co_await asio::async_write(l.socket, asio::buffer(setup_bytes), kUseTuple);
        if (wec) {
            co_return l.timed_out ? "connect to " + endpoint_text + " timed out"
                                  : "cannot write to " + endpoint_text + ": " + wec.message();
        }
        auto replies = co_await read_replies(l, setup_count);
        if (!replies.error.empty()) {
            co_return replies.error + " (" + endpoint_text + ")";
        }
        for (const auto& r : replies.replies) {
            if (r.is_error()) {
                // Redis error texts never echo the password ("WRONGPASS invalid username-...").
                co_return "handshake refused by " + endpoint_text + ": " + r.str;
            }
        }
        co_return std::nullopt;
    }

    void connect_failed(const std::string& why) {
        connecting.reset();
        last_error = why;
        // Exponential backoff with up to 25% jitter, so many instances do not reconnect in step.
        const auto base = backoff.count();
        const auto jitter =
            std::uniform_int_distribution<long>(0, std::max<long>(0, base / 4))(rng);
        retry_at = SteadyClock::now() + std::chrono::milliseconds(base + jitter);
        backoff = std::min(opts.backoff_max, backoff * 2);
        auto waiting = std::move(queued);
        queued.clear();
        for (auto& c : waiting) {
            complete(*c, unavailable(why));
        }
        notify(false, why);
    }

    static asio::awaitable<void> read_loop(std::shared_ptr<State> self, LinkPtr l) {
        std::array<char, 16384> buf{};
        for (;;) {
            auto [ec, n] = co_await l->socket.async_read_some(asio::buffer(buf), kUseTuple);
            if (self->link != l) {
                co_return;
            }
            if (ec) {
                self->lose(l, ec == asio::error::eof
                                  ? std::string("connection closed by the server")
                                  : "connection lost: " + ec.message());
                co_return;
            }
            redisReaderFeed(l->reader, buf.data(), n);
            for (;;) {
                void* raw = nullptr;
                if (redisReaderGetReply(l->reader, &raw) != REDIS_OK) {
                    self->lose(l, std::string("protocol error: ") + l->reader->errstr);
                    co_return;
                }
                if (raw == nullptr) {
                    break;
                }
                RedisReply reply = copy_reply(*static_cast<redisReply*>(raw));
                freeReplyObject(raw);
                if (l->inflight.empty()) {
                    self->lose(l, "reply without a command");
                    co_return;
                }
                auto call = std::move(l->inflight.front());
                l->inflight.pop_front();
                complete(*call, std::move(reply));
            }
        }
    }

    // Writes every queued command in one write (pipelining); called again when it completes.
    void flush() {
        if (!link || link->writing || queued.empty()) {
            return;
        }
        auto bytes = std::make_shared<std::string>();
        for (auto& c : queued) {
            if (c->abandoned) {
                continue;
            }
            *bytes += c->bytes;
            c->sent = true;
            link->inflight.push_back(std::move(c));
        }
        queued.clear();
        if (bytes->empty()) {
            return;
        }
        link->writing = true;
        asio::async_write(link->socket, asio::buffer(*bytes),
                          [self = shared_from_this(), l = link,
                           bytes](const boost::system::error_code& ec, std::size_t) {
                              l->writing = false;
                              if (self->link != l) {
                                  return;
                              }
                              if (ec) {
                                  self->lose(l, "write failed: " + ec.message());
                                  return;
                              }
                              self->flush();
                          });
    }

    // Drops an established connection: what was sent on it fails (it may or may not have run),
    // what was not yet sent goes out on the next connection.
    // `l` by value: callers pass the `link` member, which this resets.
    void lose(LinkPtr l, const std::string& why) {  // NOLINT(performance-unnecessary-value-param)
        if (link != l) {
            return;
        }
        link.reset();
        boost::system::error_code ignored;
        l->socket.close(ignored);
        auto sent = std::move(l->inflight);
        l->inflight.clear();
        for (auto& c : sent) {
            complete(*c, unavailable(why));
        }
        last_error = why;
        retry_at = {};  // the next command may reconnect at once; a failure then backs off
        notify(false, why);
        if (!queued.empty()) {
            start_connect();
        }
    }

    void on_timeout(const Call& call) {
        if (call.sent && link &&
            std::any_of(link->inflight.begin(), link->inflight.end(),
                        [&](const CallPtr& c) { return c.get() == &call; })) {
            lose(link, "no answer within the deadline; reconnecting");
        }
    }

    void shut() {
        if (closed) {
            return;
        }
        closed = true;
        if (link) {
            lose(link, "connection closed");
        }
        if (connecting) {
            boost::system::error_code ignored;
            connecting->socket.close(ignored);
            connecting->resolver.cancel();
            connecting.reset();
        }
        auto waiting = std::move(queued);
        queued.clear();
        for (auto& c : waiting) {
            complete(*c, unavailable("connection closed"));
        }
    }
};

RedisConnection::RedisConnection(asio::io_context& loop, RedisConnectionOptions options)
    : state_(std::make_shared<State>(loop, std::move(options))) {}

RedisConnection::~RedisConnection() = default;

asio::awaitable<Result<RedisReply>> RedisConnection::command(std::vector<std::string> argv,
                                                             SteadyClock::time_point deadline) {
    auto st = state_;  // pending work keeps the state alive
    auto call = std::make_shared<Call>(st->ctx.get_executor());
    call->bytes = encode_redis_command(argv);
    if (call->bytes.empty()) {  // only when hiredis cannot allocate
        co_return unavailable("cannot encode the command");
    }
    call->timer.expires_at(deadline);
    st->submit(call);
    if (!call->outcome) {
        co_await call->timer.async_wait(kUseTuple);
    }
    if (call->outcome) {
        co_return std::move(*call->outcome);
    }
    call->abandoned = true;
    st->on_timeout(*call);
    co_return unavailable("no answer within the deadline");
}

void RedisConnection::start() {
    asio::post(state_->ctx, [st = state_] {
        if (!st->link && !st->connecting && SteadyClock::now() >= st->retry_at) {
            st->start_connect();
        }
    });
}

void RedisConnection::close() {
    asio::post(state_->ctx, [st = state_] { st->shut(); });
}

bool RedisConnection::connected() const {
    return state_->link != nullptr;
}

std::uint64_t RedisConnection::connects() const {
    return state_->connect_count;
}

}  // namespace voicegate::ratelimit
