// The relay's handler with a scripted upstream and store: what happens to the session and the
// upstream call when a step after the session's creation fails. (The round trips over HTTP
// against the emulator are in tests/integration/relay_test.cpp.)
#include <map>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "api/access_config.hpp"
#include "api/handlers.hpp"
#include "fakes/fake_realtime_api.hpp"
#include "fakes/fake_session_store.hpp"
#include "fakes/manual_clock.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "support/config_from_env.hpp"
#include "support/run_coro.hpp"
#include "unit/api/relay_offers.hpp"

namespace voicegate::api {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;

// A recorder whose writes can be made to fail.
// The handler's recorder, faked: remembers the calls it is given (the store's attach_call has
// its own suite, tests/unit/store/call_supervision_test.cpp), or fails on demand.
class FlakyRecorder final : public CallRecorder {
public:
    asio::awaitable<Result<void>> record_call(store::AttachRequest r) override {
        if (fail_writes) {
            co_return fail(Error::store_unavailable, {}, "fake: recorder down");
        }
        calls[r.session_id] = r.call_id;
        co_return Result<void>{};
    }
    asio::awaitable<Result<store::AttachOutcome>> attach(store::AttachRequest r) override {
        const bool fresh = calls.emplace(r.session_id, r.call_id).second;
        co_return store::AttachOutcome{fresh};
    }
    std::string call_of(const std::string& session_id) const {
        auto it = calls.find(session_id);
        return it == calls.end() ? std::string() : it->second;
    }
    std::map<std::string, std::string> calls;
    bool fail_writes = false;
};

class CallsHandlerTest : public ::testing::Test {
protected:
    config::Config cfg_ = test::config_from_env();
    test::FakeRealtimeApi realtime_;
    test::FakeSessionStore store_;
    test::ManualClock clock_;
    ratelimit::MemoryLimiter memory_limiter_{clock_};
    ratelimit::SyncLimiterAdapter limiter_{memory_limiter_};
    RatePolicy rates_{rate_settings_from(cfg_.limits), limiter_};
    QuotaDenials quota_denials_{clock_};
    FlakyRecorder recorder_;
    CallsHandler calls_{
        CallsSettings{cfg_.tokens, quota_limits(cfg_.quota), false, safety_key_from(cfg_.upstream)},
        nullptr,
        rates_,
        quota_denials_,
        realtime_,
        store_,
        recorder_,
        clock_};

    http::Response relay(std::string user = "u1") {
        http::Request r;
        r.method = "POST";
        r.path = "/api/realtime/calls";
        r.query = "userId=" + user;
        r.headers = {{"content-type", "application/sdp"}};
        r.body = test::audio_only_offer();
        r.client_ip = "127.0.0.1";
        r.request_id = "req_test";
        asio::io_context ioc;
        return test::run_coro(ioc, calls_.handle(r));
    }

    const store::SessionRow& only_row() {
        EXPECT_EQ(store_.rows.size(), 1U);
        return store_.rows.begin()->second;
    }
};

TEST_F(CallsHandlerTest, RelaysAndRecordsTheCallUnderItsOwnSessionId) {
    auto res = relay();
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_EQ(res.body, realtime_.next_call->sdp);
    const auto& row = only_row();
    EXPECT_TRUE(row.issued.session_id.starts_with("sess_"));
    EXPECT_EQ(row.issued.session_id.size(), 5U + 21U);
    EXPECT_EQ(recorder_.call_of(row.issued.session_id), "rtc_fake0123456789");
    ASSERT_EQ(realtime_.call_requests.size(), 1U);
    EXPECT_EQ(realtime_.call_requests[0].sdp, test::audio_only_offer());
    EXPECT_EQ(realtime_.call_requests[0].safety_identifier,
              safety_identifier(safety_key_from(cfg_.upstream), "u1"));
    EXPECT_EQ(res.body.find("rtc_"), std::string::npos);
    for (const auto& [k, v] : res.headers) {
        EXPECT_EQ(v.find("rtc_"), std::string::npos) << k;
    }
}

TEST_F(CallsHandlerTest, UpstreamFailureReleasesTheSession) {
    realtime_.next_call = fail(Error::upstream_rejected, {}, "upstream HTTP 400");
    auto res = relay();
    EXPECT_EQ(res.status, 502);
    EXPECT_EQ(only_row().status, "ended");
    EXPECT_EQ(only_row().ended_by, "undelivered");
    EXPECT_TRUE(realtime_.hangups.empty());
    EXPECT_EQ(recorder_.calls.size(), 0U);
}

TEST_F(CallsHandlerTest, UnrecordableCallIsHungUpAndTheSessionReleased) {
    recorder_.fail_writes = true;
    auto res = relay();
    EXPECT_EQ(res.status, 503);
    ASSERT_EQ(realtime_.hangups.size(), 1U);
    EXPECT_EQ(realtime_.hangups[0], "rtc_fake0123456789");
    EXPECT_EQ(only_row().ended_by, "undelivered");
}

TEST_F(CallsHandlerTest, QuotaRefusalCostsNoUpstreamCall) {
    auto quota = fail(Error::quota_exhausted, "Daily session quota reached.");
    quota.resets_at = clock_.now_s() + 60;
    store_.refuse_creates = quota;
    auto refused = relay();
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(json::parse(refused.body).at("code"), "quota_exhausted");
    EXPECT_TRUE(realtime_.call_requests.empty());
    // Remembered: the next request is refused before the store is asked again.
    store_.refuse_creates.reset();
    EXPECT_EQ(relay().status, 403);
    EXPECT_TRUE(store_.rows.empty());
}

TEST_F(CallsHandlerTest, UndeliveredAnswerHangsUpAndReleases) {
    auto res = relay();
    ASSERT_EQ(res.status, 201);
    ASSERT_TRUE(res.on_undelivered);
    asio::io_context ioc;
    test::run_coro(ioc, res.on_undelivered());
    ASSERT_EQ(realtime_.hangups.size(), 1U);
    EXPECT_EQ(only_row().ended_by, "undelivered");
}

}  // namespace
}  // namespace voicegate::api
