// One suite, every AsyncLimiter: the in-process MemoryLimiter (through SyncLimiterAdapter) and
// the RedisLimiter on a real Redis (VOICEGATE_TEST_REDIS_URL). Time is real (Redis uses its own
// clock), so the cases use windows where a loaded machine cannot blur the answer.
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "ratelimit/async_limiter.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "ratelimit/redis_limiter.hpp"
#include "support/loop_thread.hpp"
#include "support/redis_test_env.hpp"

namespace voicegate::ratelimit {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;

struct MemoryBackend {
    static constexpr const char* kName = "memory";
    // Returns false (after a failure or skip) when the backend cannot run.
    bool set_up(test::LoopThread& /*loop*/) {
        limiter = std::make_unique<SyncLimiterAdapter>(memory);
        return true;
    }
    void tear_down() {}
    SystemClock clock;
    MemoryLimiter memory{clock};
    std::unique_ptr<AsyncLimiter> limiter;
};

struct RedisBackend {
    static constexpr const char* kName = "redis";
    bool set_up(test::LoopThread& loop) {
        std::string url;
        [&] { VOICEGATE_REQUIRE_TEST_REDIS(url); }();
        if (url.empty()) {
            return false;
        }
        auto parsed = parse_redis_url(url);
        EXPECT_TRUE(parsed) << url;
        if (!parsed) {
            return false;
        }
        RedisLimiterOptions o;
        o.url = *parsed;
        o.key_prefix = test::unique_key_prefix();
        o.timeout = 2s;  // generous: a loaded CI machine must not turn into 503s here
        auto r = std::make_unique<RedisLimiter>(o, std::vector<asio::io_context*>{&loop.io()});
        redis = r.get();
        limiter = std::move(r);
        return true;
    }
    void tear_down() {
        if (redis != nullptr) {
            redis->shutdown();
        }
    }
    RedisLimiter* redis = nullptr;
    std::unique_ptr<AsyncLimiter> limiter;
};

template <class Backend>
class LimiterConformance : public ::testing::Test {
protected:
    void SetUp() override { ready_ = backend_.set_up(loop_); }
    void TearDown() override {
        backend_.tear_down();
        loop_.stop();
    }

    Result<std::vector<Decision>> check(std::vector<LimitCheck> checks) {
        return loop_.run(backend_.limiter->check(std::move(checks)));
    }
    Decision check_one(const std::string& key, const Rate& rate) {
        std::vector<LimitCheck> checks{{key, rate}};
        auto r = check(std::move(checks));
        EXPECT_TRUE(r) << (r ? "" : r.error().details);
        EXPECT_EQ(r ? r->size() : 0U, 1U);
        return r && !r->empty() ? r->front() : Decision{false, -1, 0, 0, 0, 0};
    }

    bool ready_ = false;
    test::LoopThread loop_;
    Backend backend_;
};

struct BackendNames {
    template <class T>
    static std::string GetName(int) {  // NOLINT(readability-identifier-naming): gtest's name
        return T::kName;
    }
};

using Backends = ::testing::Types<MemoryBackend, RedisBackend>;
TYPED_TEST_SUITE(LimiterConformance, Backends, BackendNames);

#define REQUIRE_BACKEND()    \
    do {                     \
        if (!this->ready_) { \
            return;          \
        }                    \
    } while (false)

TYPED_TEST(LimiterConformance, BurstThenRefusedWithRetryAfter) {
    REQUIRE_BACKEND();
    const Rate rate{5, 60'000, 5};  // T = 12 s: nothing refills during the test
    for (int i = 0; i < 5; ++i) {
        auto d = this->check_one("user:burst", rate);
        EXPECT_TRUE(d.allowed) << i;
        EXPECT_EQ(d.limit, 5);
        EXPECT_EQ(d.window_s, 60);
        EXPECT_EQ(d.remaining, 4 - i);
        if (i < 4) {
            EXPECT_EQ(d.retry_after_ms, 0);
        } else {
            // The last of the burst: the next passes after one emission interval.
            EXPECT_GT(d.retry_after_ms, 11'000);
            EXPECT_LE(d.retry_after_ms, 12'000);
        }
        EXPECT_GT(d.reset_after_ms, 12'000 * (i + 1) - 1'000);
        EXPECT_LE(d.reset_after_ms, 12'000 * (i + 1));
    }
    auto refused = this->check_one("user:burst", rate);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.remaining, 0);
    EXPECT_GT(refused.retry_after_ms, 11'000);
    EXPECT_LE(refused.retry_after_ms, 12'000);
    EXPECT_GT(refused.reset_after_ms, 59'000);
    EXPECT_LE(refused.reset_after_ms, 60'000);
    // A refusal is not counted: the wait does not grow.
    auto again = this->check_one("user:burst", rate);
    EXPECT_FALSE(again.allowed);
    EXPECT_LE(again.retry_after_ms, refused.retry_after_ms);
}

TYPED_TEST(LimiterConformance, RefillsWithRealTime) {
    REQUIRE_BACKEND();
    const Rate rate{1, 1000, 1};  // one per second
    const auto start = std::chrono::steady_clock::now();
    auto first = this->check_one("user:refill", rate);
    ASSERT_TRUE(first.allowed);
    EXPECT_EQ(first.remaining, 0);
    auto second = this->check_one("user:refill", rate);
    if (std::chrono::steady_clock::now() - start < 900ms) {  // not stalled for a whole second
        EXPECT_FALSE(second.allowed);
        EXPECT_GT(second.retry_after_ms, 0);
        EXPECT_LE(second.retry_after_ms, 1000);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(second.retry_after_ms) + 50ms);
    EXPECT_TRUE(this->check_one("user:refill", rate).allowed);
}

TYPED_TEST(LimiterConformance, KeysAreIndependent) {
    REQUIRE_BACKEND();
    const Rate rate{1, 3'600'000, 1};
    EXPECT_TRUE(this->check_one("user:a", rate).allowed);
    EXPECT_FALSE(this->check_one("user:a", rate).allowed);
    EXPECT_TRUE(this->check_one("user:b", rate).allowed);
    EXPECT_TRUE(this->check_one("ip:user:a", rate).allowed);
}

TYPED_TEST(LimiterConformance, SeveralChecksStopAtTheFirstRefusal) {
    REQUIRE_BACKEND();
    const Rate one{1, 3'600'000, 1};
    const Rate five{5, 3'600'000, 5};
    std::vector<LimitCheck> both{{"ip:x", one}, {"user:y", five}};
    auto r = this->check(both);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 2U);
    EXPECT_TRUE((*r)[0].allowed);
    EXPECT_TRUE((*r)[1].allowed);
    EXPECT_EQ((*r)[1].remaining, 4);

    // The address is spent: refused, and the user's allowance is untouched.
    r = this->check(both);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 1U);
    EXPECT_FALSE((*r)[0].allowed);
    EXPECT_EQ(this->check_one("user:y", five).remaining, 3);

    // A refusal by a later check still counts the earlier ones.
    std::vector<LimitCheck> later{{"ip:z", five}, {"ip:x", one}};
    r = this->check(later);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 2U);
    EXPECT_TRUE((*r)[0].allowed);
    EXPECT_FALSE((*r)[1].allowed);
    EXPECT_EQ(this->check_one("ip:z", five).remaining, 3);

    auto none = this->check({});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TYPED_TEST(LimiterConformance, HeadersFromItsDecisions) {
    REQUIRE_BACKEND();
    const Rate rate{2, 60'000, 2};
    std::vector<LimitCheck> checks{{"ip:h", Rate{100, 60'000, 100}}, {"user:h", rate}};
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(this->check(checks));
    }
    auto r = this->check(checks);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 2U);
    std::vector<NamedDecision> named{{"user", (*r)[1]}, {"ip", (*r)[0]}};
    auto h = render_headers(named);
    EXPECT_EQ(h.policy, "\"user\";q=2;w=60, \"ip\";q=100;w=60");
    EXPECT_EQ(h.ratelimit.substr(0, 19), "\"user\";r=0;t=30, \"i") << h.ratelimit;
    EXPECT_EQ(h.retry_after_s, 30);
}

TYPED_TEST(LimiterConformance, ExactUnderConcurrencyOnOneKey) {
    REQUIRE_BACKEND();
    const Rate rate{50, 3'600'000, 50};
    // The memory backend decides inline on the calling loop, so one loop would run the checks
    // one after another (test review D12): spread them over four loops, four threads. The
    // Redis limiter belongs to loop_ and is concurrent through its connection.
    std::vector<std::unique_ptr<test::LoopThread>> extra;
    if constexpr (std::is_same_v<TypeParam, MemoryBackend>) {
        for (int i = 0; i < 3; ++i) {
            extra.push_back(std::make_unique<test::LoopThread>());
        }
    }
    std::vector<std::future<Result<std::vector<Decision>>>> futures;
    for (int i = 0; i < 400; ++i) {
        std::vector<LimitCheck> checks{{"user:hot", rate}};
        const auto slot = static_cast<std::size_t>(i) % (extra.size() + 1);
        auto& loop = slot == 0 ? this->loop_ : *extra[slot - 1];
        futures.push_back(loop.spawn(this->backend_.limiter->check(std::move(checks))));
    }
    int passed = 0;
    int refused = 0;
    for (auto& f : futures) {
        auto r = f.get();
        ASSERT_TRUE(r) << r.error().details;
        (r->front().allowed ? passed : refused) += 1;
    }
    EXPECT_EQ(passed, 50);
    EXPECT_EQ(refused, 350);
}

}  // namespace
}  // namespace voicegate::ratelimit
