// DenialLog: refusals counted exactly per key and minute, audited by a bounded sample, and the
// number of distinct keys bounded however many user ids a flood invents (probe 2026-12, D3).
// The SQL side (write_denials, prune_step) runs in the store conformance suite on every engine.
#include <gtest/gtest.h>

#include <string>

#include "store/audit.hpp"

namespace voicegate::store {
namespace {

constexpr std::int64_t kMinute0 = 1'700'000'040'000;  // the start of a minute

Denial denial(std::int64_t at_ms, std::string user, std::string ip,
              std::string reason = "rate_limited") {
    Denial d;
    d.at_ms = at_ms;
    d.user_id = std::move(user);
    d.client_ip = std::move(ip);
    d.reason = std::move(reason);
    return d;
}

std::int64_t rows_of(const DenialBatch& b, const std::string& user, const std::string& ip) {
    std::int64_t n = 0;
    for (const auto& c : b.counts) {
        if (c.user_id == user && c.client_ip == ip) {
            n += c.n;
        }
    }
    return n;
}

TEST(DenialLog, SamplesTheFirstPerUserAndAddressEachMinuteAndCountsEvery) {
    DenialLog log;
    int kept = 0;
    for (int i = 0; i < 1000; ++i) {
        kept += log.record(denial(kMinute0 + i * 50, "flooder", "198.51.100.1")) ? 1 : 0;
    }
    EXPECT_EQ(kept, 5);
    // Another reason has its own sample; another user on the same address shares the address's.
    EXPECT_TRUE(
        log.record(denial(kMinute0 + 51'000, "flooder", "198.51.100.1", "quota_exhausted")));
    EXPECT_FALSE(log.record(denial(kMinute0 + 51'001, "second", "198.51.100.1")));
    EXPECT_TRUE(log.record(denial(kMinute0 + 51'002, "third", "198.51.100.2")));
    // The next minute starts afresh.
    EXPECT_TRUE(log.record(denial(kMinute0 + 60'000, "flooder", "198.51.100.1")));

    const auto batch = log.take();
    EXPECT_EQ(batch.denials(), 1004);
    EXPECT_EQ(batch.samples.size(), 8U);
    EXPECT_EQ(batch.samples.front().type, "token_denied");
    EXPECT_EQ(batch.samples.front().at_ms, kMinute0);
    EXPECT_EQ(batch.samples.front().client_ip, "198.51.100.1");
    // Keys: flooder this minute (two reasons) and the next, second and third.
    EXPECT_EQ(batch.counts.size(), 5U);
    EXPECT_EQ(rows_of(batch, "flooder", "198.51.100.1"), 1002);
    EXPECT_TRUE(log.take().empty()) << "taken once";
}

TEST(DenialLog, ThePerSecondCapIsABackstopAcrossEveryone) {
    DenialSampling s;
    s.per_second = 3;
    DenialLog log(s);
    int kept = 0;
    for (int i = 0; i < 10; ++i) {  // ten users, ten addresses, one second
        const std::string n = std::to_string(i);
        kept += log.record(denial(kMinute0 + i, "u" + n, "203.0.113." + n)) ? 1 : 0;
    }
    EXPECT_EQ(kept, 3);
    EXPECT_TRUE(log.record(denial(kMinute0 + 1000, "u9", "203.0.113.9"))) << "the next second";
    EXPECT_EQ(log.take().denials(), 11);
}

TEST(DenialLog, InventedUserIdsFoldIntoBoundedKeysWithExactTotals) {
    DenialLog log;  // 10 users per address, 1,000 keys a minute
    for (int i = 0; i < 5000; ++i) {
        log.record(denial(kMinute0 + i, "invented-" + std::to_string(i), "192.0.2.1"));
    }
    auto one_address = log.take();
    EXPECT_EQ(one_address.denials(), 5000);
    EXPECT_EQ(one_address.counts.size(), 11U) << "10 users and the address's others";
    EXPECT_EQ(rows_of(one_address, "", "192.0.2.1"), 4990);

    // Many addresses: beyond 1,000 keys a minute everything else is one key.
    for (int i = 0; i < 5000; ++i) {
        const std::string n = std::to_string(i);
        log.record(denial(kMinute0 + 60'000 + i, "user-" + n, "2001:db8::" + n));
    }
    auto many = log.take();
    EXPECT_EQ(many.denials(), 5000);
    EXPECT_EQ(many.counts.size(), 1001U);
    EXPECT_EQ(rows_of(many, "", ""), 4000);
    // Users seen before the bound keep their own key for the rest of the minute.
    log.record(denial(kMinute0 + 65'000, "user-0", "2001:db8::0"));
    EXPECT_EQ(rows_of(log.take(), "user-0", "2001:db8::0"), 1);
}

TEST(DenialLog, AFailedFlushKeepsEverythingForTheNext) {
    DenialLog log;
    EXPECT_FALSE(log.dirty());
    for (int i = 0; i < 7; ++i) {
        log.record(denial(kMinute0 + i, "u", "192.0.2.7"));
    }
    auto first = log.take();
    EXPECT_TRUE(log.dirty()) << "in flight";
    log.record(denial(kMinute0 + 100, "u", "192.0.2.7"));
    log.done(std::move(first), false);
    auto second = log.take();
    EXPECT_EQ(second.denials(), 8);
    EXPECT_EQ(second.counts.size(), 1U);
    EXPECT_EQ(second.samples.size(), 5U);
    log.done(std::move(second), true);
    EXPECT_FALSE(log.dirty());
    EXPECT_TRUE(log.take().empty());
}

TEST(DenialLog, NoSamplesWhenTurnedOffAndTheBufferStaysBounded) {
    DenialSampling off;
    off.per_minute = 0;
    DenialLog counts_only(off);
    EXPECT_FALSE(counts_only.record(denial(kMinute0, "u", "192.0.2.8")));
    EXPECT_EQ(counts_only.take().denials(), 1);

    DenialSampling small;
    small.max_pending_keys = 3;
    small.max_pending_samples = 2;
    DenialLog log(small);
    for (int m = 0; m < 6; ++m) {  // six minutes, one key each: the buffer holds three
        log.record(denial(kMinute0 + m * 60'000, "u", "192.0.2.9"));
    }
    auto batch = log.take();
    EXPECT_EQ(batch.denials(), 6);
    EXPECT_EQ(rows_of(batch, "u", "192.0.2.9"), 3);
    EXPECT_EQ(rows_of(batch, "", ""), 3) << "folded, the totals exact";
    EXPECT_EQ(batch.samples.size(), 2U);
    EXPECT_EQ(log.dropped_samples(), 4U);
}

TEST(Retention, CutoffsFollowTheDaysAndZeroKeepsForever) {
    constexpr std::int64_t kNow = 1'700'000'000'000;
    const auto r = retention_request(kNow, 90, 30, 500);
    EXPECT_EQ(r.events_before_ms, kNow - 90 * 86'400'000LL);
    EXPECT_EQ(r.denials_before_minute, (kNow - 30 * 86'400'000LL) / 60'000);
    EXPECT_EQ(r.limit, 500);
    const auto forever = retention_request(kNow, 0, 0);
    EXPECT_EQ(forever.events_before_ms, 0);
    EXPECT_EQ(forever.denials_before_minute, 0);
}

}  // namespace
}  // namespace voicegate::store
