// RedisLimiter on a real Redis (VOICEGATE_TEST_REDIS_URL): what the shared conformance suite
// cannot see — keys and TTLs in Redis, exactness across instances, the script cache, and
// outages (through a TcpProxy, so the Redis other tests share is never stopped).
#include "ratelimit/redis_limiter.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <openssl/sha.h>

#include <gtest/gtest.h>

#include "ratelimit/redis_connection.hpp"
#include "support/eventually.hpp"
#include "support/log_capture.hpp"
#include "support/loop_thread.hpp"
#include "support/redis_test_env.hpp"
#include "support/tcp_proxy.hpp"

#include <spdlog/spdlog.h>

namespace voicegate::ratelimit {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::LogCapture;
using test::eventually;
using test::TcpProxy;

class RedisLimiterTest : public ::testing::Test {
protected:
    void SetUp() override {
        VOICEGATE_REQUIRE_TEST_REDIS(url_text_);
        auto parsed = parse_redis_url(url_text_);
        ASSERT_TRUE(parsed) << url_text_;
        url_ = *parsed;
        target_host_ = url_.host == "localhost" ? "127.0.0.1" : url_.host;
        prefix_ = test::unique_key_prefix();
        RedisConnectionOptions co;
        co.url = url_;
        raw_ = std::make_unique<RedisConnection>(raw_loop_.io(), co);
    }
    void TearDown() override {
        // Limiters before their loops (they post to them), loops before the log capture.
        owned_.clear();
        loop_.stop();
        other_loop_.stop();
        if (raw_) {
            raw_->close();
        }
        raw_loop_.stop();
    }

    RedisLimiterOptions options(std::uint16_t port = 0) {
        RedisLimiterOptions o;
        o.url = url_;
        if (port != 0) {
            o.url.host = "127.0.0.1";
            o.url.port = port;
        }
        o.key_prefix = prefix_;
        o.timeout = 2s;
        return o;
    }
    RedisLimiter* make(RedisLimiterOptions o, test::LoopThread& loop) {
        owned_.push_back(std::make_unique<RedisLimiter>(
            std::move(o), std::vector<asio::io_context*>{&loop.io()}));
        return owned_.back().get();
    }
    static Result<std::vector<Decision>> check(test::LoopThread& loop, RedisLimiter& l,
                                               const std::string& key, const Rate& rate) {
        std::vector<LimitCheck> checks{{key, rate}};
        return loop.run(l.check(std::move(checks)));
    }
    // A command on a separate plain connection, to look at what the limiter stored.
    RedisReply raw(std::vector<std::string> argv) {
        auto r =
            raw_loop_.run(raw_->command(std::move(argv), std::chrono::steady_clock::now() + 5s));
        EXPECT_TRUE(r) << (r ? "" : r.error().details);
        return r ? *r : RedisReply{};
    }

    LogCapture log_;  // first: outlives everything that logs
    std::string url_text_;
    RedisUrl url_;
    std::string target_host_;
    std::string prefix_;
    test::LoopThread loop_;
    test::LoopThread other_loop_;
    test::LoopThread raw_loop_;
    std::unique_ptr<RedisConnection> raw_;
    std::vector<std::unique_ptr<RedisLimiter>> owned_;
};

TEST(RedisLimiterScript, ShaMatchesTheScript) {
    EXPECT_EQ(RedisLimiter::script_sha1().size(), 40U);
    // Test review D10: hashed here, independently, so a stale hard-coded SHA (every decision
    // on the slower EVAL path) fails without Redis.
    const auto text = RedisLimiter::script();
    std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
    std::string hex;
    for (const unsigned char byte : digest) {
        constexpr const char* kHex = "0123456789abcdef";
        hex += kHex[byte >> 4];
        hex += kHex[byte & 0x0f];
    }
    EXPECT_EQ(RedisLimiter::script_sha1(), hex);
    EXPECT_NE(RedisLimiter::script().find("redis.call('TIME')"), std::string_view::npos)
        << "decisions must use Redis's clock, not the instances'";
}

TEST_F(RedisLimiterTest, StoresTheTatUnderThePrefixWithTtlUntilFullRecovery) {
    auto* limiter = make(options(), loop_);
    const Rate rate{5, 60'000, 5};  // T = 12 s
    ASSERT_TRUE(check(loop_, *limiter, "user:ttl", rate));
    auto ttl = raw({"PTTL", prefix_ + "user:ttl"});
    ASSERT_EQ(ttl.type, RedisReply::Type::integer);
    EXPECT_GT(ttl.integer, 11'000);
    EXPECT_LE(ttl.integer, 12'000);
    ASSERT_TRUE(check(loop_, *limiter, "user:ttl", rate));
    ttl = raw({"PTTL", prefix_ + "user:ttl"});
    EXPECT_GT(ttl.integer, 23'000);
    EXPECT_LE(ttl.integer, 24'000);
    // The value is the TAT in microseconds of Redis's clock.
    auto tat = raw({"GET", prefix_ + "user:ttl"});
    auto now = raw({"TIME"});
    ASSERT_EQ(tat.type, RedisReply::Type::string);
    ASSERT_EQ(now.elements.size(), 2U);
    const auto now_us =
        std::stoll(now.elements[0].str) * 1'000'000 + std::stoll(now.elements[1].str);
    EXPECT_NEAR(static_cast<double>(std::stoll(tat.str) - now_us), 24e6, 1.5e6);
    // Nothing without the prefix.
    EXPECT_EQ(raw({"EXISTS", "user:ttl"}).integer, 0);
}

TEST_F(RedisLimiterTest, IdleKeysExpire) {
    auto* limiter = make(options(), loop_);
    ASSERT_TRUE(check(loop_, *limiter, "user:short", Rate{10, 1000, 10}));  // T = 100 ms
    EXPECT_TRUE(eventually(
        [&] {
            return raw({"EXISTS", prefix_ + "user:short"}).integer == 0;
        },
        3s));
}

TEST_F(RedisLimiterTest, TwoInstancesOnTwoLoopsAreExactTogether) {
    // As two voicegate processes would: separate limiters, connections and threads.
    auto* a = make(options(), loop_);
    auto* b = make(options(), other_loop_);
    const Rate rate{100, 3'600'000, 100};
    constexpr int kPerInstance = 300;
    std::vector<std::future<Result<std::vector<Decision>>>> futures;
    for (int i = 0; i < kPerInstance; ++i) {
        std::vector<LimitCheck> ca{{"user:shared", rate}};
        std::vector<LimitCheck> cb{{"user:shared", rate}};
        futures.push_back(loop_.spawn(a->check(std::move(ca))));
        futures.push_back(other_loop_.spawn(b->check(std::move(cb))));
    }
    int passed = 0;
    for (auto& f : futures) {
        auto r = f.get();
        ASSERT_TRUE(r) << r.error().details;
        passed += r->front().allowed ? 1 : 0;
    }
    EXPECT_EQ(passed, 100);
}

TEST_F(RedisLimiterTest, FallsBackToEvalAfterTheScriptCacheIsFlushed) {
    auto* limiter = make(options(), loop_);
    const Rate rate{3, 3'600'000, 3};
    ASSERT_TRUE(check(loop_, *limiter, "user:flush", rate));
    // Other test processes sharing this Redis merely take the same EVAL fallback once.
    EXPECT_EQ(raw({"SCRIPT", "FLUSH"}).type, RedisReply::Type::status);
    auto r = check(loop_, *limiter, "user:flush", rate);
    ASSERT_TRUE(r) << r.error().details;
    EXPECT_EQ(r->front().remaining, 1);
    auto loaded = raw({"SCRIPT", "EXISTS", RedisLimiter::script_sha1()});
    ASSERT_EQ(loaded.elements.size(), 1U);
    EXPECT_EQ(loaded.elements[0].integer, 1) << "EVAL cached the script again";
}

TEST_F(RedisLimiterTest, StartConnectsBeforeTheFirstRequestAndLogsIt) {
    auto* limiter = make(options(), loop_);
    EXPECT_EQ(limiter->health(), RedisLimiter::Health::unknown);
    limiter->start();
    EXPECT_TRUE(eventually([&] { return limiter->health() == RedisLimiter::Health::up; }));
    EXPECT_EQ(log_.count("redis: connected to "), 1) << log_.text();
}

TEST_F(RedisLimiterTest, UnreachableFailsClosedFastAndLogsOncePerStateChange) {
    TcpProxy proxy(target_host_, url_.port);
    auto* limiter = make(options(proxy.port()), loop_);
    const Rate rate{1000, 60'000, 1000};
    ASSERT_TRUE(check(loop_, *limiter, "user:outage", rate));

    proxy.set_mode(TcpProxy::Mode::refuse);
    EXPECT_TRUE(eventually([&] { return limiter->health() == RedisLimiter::Health::down; }));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) {
        auto r = check(loop_, *limiter, "user:outage", rate);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, Error::store_unavailable);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "refused connects fail fast";
    EXPECT_EQ(log_.count("redis: unreachable"), 1) << log_.text();

    proxy.set_mode(TcpProxy::Mode::forward);
    EXPECT_TRUE(eventually([&] { return bool(check(loop_, *limiter, "user:outage", rate)); }))
        << "recovers once Redis is back (after the reconnect backoff)";
    for (int i = 0; i < 20; ++i) {
        EXPECT_TRUE(check(loop_, *limiter, "user:outage", rate));
    }
    EXPECT_EQ(log_.count("redis: reconnected"), 1) << log_.text();
    EXPECT_EQ(log_.count("redis: unreachable"), 1) << log_.text();
}

TEST_F(RedisLimiterTest, BacksOffBetweenConnectAttempts) {
    // A server that accepts and hangs up at once: each attempt fails in the handshake.
    TcpProxy proxy(target_host_, url_.port);
    proxy.set_mode(TcpProxy::Mode::reset);
    auto* limiter = make(options(proxy.port()), loop_);
    const Rate rate{1000, 60'000, 1000};
    std::string details;
    for (int i = 0; i < 50; ++i) {
        auto r = check(loop_, *limiter, "user:backoff", rate);
        ASSERT_FALSE(r);
        details = r.error().details;
    }
    // Fifty decisions in a few milliseconds: one or two attempts (100 ms, then 200 ms apart),
    // not one per decision; the others fail at once.
    EXPECT_GE(proxy.accepted(), 1U);
    EXPECT_LE(proxy.accepted(), 4U);
    EXPECT_NE(details.find("next attempt in"), std::string::npos) << details;
    EXPECT_EQ(log_.count("redis: unreachable"), 1) << log_.text();
}

TEST_F(RedisLimiterTest, FailOpenAllowsWithoutEnforcing) {
    TcpProxy proxy(target_host_, url_.port);
    proxy.set_mode(TcpProxy::Mode::refuse);
    auto o = options(proxy.port());
    o.fail_open = true;
    auto* limiter = make(o, loop_);
    for (int i = 0; i < 10; ++i) {
        std::vector<LimitCheck> checks{{"ip:open", Rate{1, 60'000, 1}},
                                       {"user:open", Rate{1, 60'000, 1}}};
        auto r = loop_.run(limiter->check(std::move(checks)));
        ASSERT_TRUE(r);
        ASSERT_EQ(r->size(), 2U);
        EXPECT_TRUE((*r)[0].allowed);
        EXPECT_EQ((*r)[0].limit, 0) << "not enforced: no RateLimit headers";
    }
    EXPECT_EQ(log_.count("redis: unreachable"), 1) << log_.text();
    EXPECT_NE(log_.text().find("fails open"), std::string::npos) << log_.text();
}

TEST_F(RedisLimiterTest, HungRedisCannotHangADecision) {
    TcpProxy proxy(target_host_, url_.port);
    auto o = options(proxy.port());
    o.timeout = 200ms;
    auto* limiter = make(o, loop_);
    const Rate rate{1000, 60'000, 1000};
    // Connected first, so the hang hits an established connection (the deadline, then a reset).
    ASSERT_TRUE(eventually([&] { return bool(check(loop_, *limiter, "user:hang", rate)); }));

    proxy.set_mode(TcpProxy::Mode::hang);
    for (int i = 0; i < 5; ++i) {
        const auto start = std::chrono::steady_clock::now();
        auto r = check(loop_, *limiter, "user:hang", rate);
        const auto took = std::chrono::steady_clock::now() - start;
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, Error::store_unavailable);
        EXPECT_LT(took, 1500ms) << "attempt " << i;  // 200 ms deadline, slack for a loaded box
    }
    proxy.set_mode(TcpProxy::Mode::forward);
    EXPECT_TRUE(eventually([&] { return bool(check(loop_, *limiter, "user:hang", rate)); }));
}

TEST_F(RedisLimiterTest, WrongPasswordIsUnreachableAndNeverLogged) {
    auto o = options();
    o.url.password = "s3cret-Pa55word";
    auto* limiter = make(o, loop_);
    auto r = check(loop_, *limiter, "user:auth", Rate{1, 1000, 1});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::store_unavailable);
    EXPECT_EQ(r.error().details.find("s3cret-Pa55word"), std::string::npos) << r.error().details;
    const auto text = log_.text();
    EXPECT_EQ(log_.count("redis: unreachable"), 1) << text;
    EXPECT_NE(text.find(":***@"), std::string::npos) << text;
    EXPECT_EQ(text.find("s3cret-Pa55word"), std::string::npos) << text;
}

TEST_F(RedisLimiterTest, OffItsLoopsIsAnInternalError) {
    auto* limiter = make(options(), loop_);
    test::LoopThread stranger;
    auto r = check(stranger, *limiter, "user:x", Rate{1, 1000, 1});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::internal);
}

TEST_F(RedisLimiterTest, ConnectionPipelinesManyCommandsInOrder) {
    std::vector<std::future<Result<RedisReply>>> futures;
    for (int i = 0; i < 500; ++i) {
        std::vector<std::string> argv{"ECHO", std::to_string(i)};
        futures.push_back(
            raw_loop_.spawn(raw_->command(std::move(argv), std::chrono::steady_clock::now() + 5s)));
    }
    for (int i = 0; i < 500; ++i) {
        auto r = futures[static_cast<std::size_t>(i)].get();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->str, std::to_string(i));
    }
    EXPECT_EQ(
        raw_loop_.run([this]() -> asio::awaitable<std::uint64_t> { co_return raw_->connects(); }()),
        1U);
}

}  // namespace
}  // namespace voicegate::ratelimit
