#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "upstream/upstream_reply.hpp"

namespace voicegate::upstream {
namespace {

HttpResponse answer(int status, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

TEST(UpstreamHttpFailure, MapsStatusesAndBodiesAsSpec32Says) {
    const auto quota = upstream_http_failure(
        answer(
            429,
            R"({"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}})"),
        1'700'000'000);
    EXPECT_EQ(quota.code, Error::upstream_rejected);
    EXPECT_NE(quota.details.find("insufficient_quota"), std::string::npos);

    const auto limited = upstream_http_failure(
        answer(
            429,
            R"({"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}})",
            {{"retry-after", "7"}}),
        1'700'000'000);
    EXPECT_EQ(limited.code, Error::upstream_unavailable);
    EXPECT_EQ(limited.retry_after_s, 7);
    EXPECT_NE(limited.details.find("rate_limit_exceeded"), std::string::npos);

    const auto dated = upstream_http_failure(
        answer(429, "", {{"retry-after", "Tue, 14 Nov 2023 22:14:00 GMT"}}), 1'700'000'000);
    EXPECT_EQ(dated.retry_after_s, 1'700'000'040 - 1'700'000'000);

    const auto server = upstream_http_failure(answer(500, "<html>oops</html>"), 0);
    EXPECT_EQ(server.code, Error::upstream_rejected);
    EXPECT_NE(server.details.find("non-JSON"), std::string::npos);

    const auto odd = upstream_http_failure(answer(302, ""), 0);
    EXPECT_EQ(odd.code, Error::upstream_bad_response);
    EXPECT_NE(odd.details.find("302"), std::string::npos);
}

TEST(UpstreamHttpFailure, CutsLongUpstreamMessages) {
    const std::string message(1000, 'm');
    const auto f = upstream_http_failure(
        answer(400, R"({"error":{"message":")" + message + R"(","type":"invalid_request_error"}})"),
        0);
    EXPECT_LT(f.details.size(), 400U);
    EXPECT_NE(f.details.find("..."), std::string::npos);
}

// Found by fuzz/targets/upstream_reply.cpp: a hint beyond the range of int64 milliseconds was
// cast from double (undefined behaviour; in practice a negative delay).
TEST(RetryAfterHint, HugeHintsAreCappedAtOneDay) {
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"retry-after-ms", "79223372036854775808"},
             {"retry-after-ms", "99999999999999999999"},
             {"retry-after", "9223372036854775808"},
             {"retry-after", "9223372036854775.807"},
             {"retry-after", "86401"}}) {
        const auto hint = retry_after_hint(answer(429, "", {{name, value}}), 1'700'000'000);
        ASSERT_TRUE(hint.has_value()) << name << ": " << value;
        EXPECT_EQ(hint->count(), 86'400'000) << name << ": " << value;
        const auto f = upstream_http_failure(answer(429, "", {{name, value}}), 1'700'000'000);
        EXPECT_EQ(f.retry_after_s, 86'400) << name << ": " << value;
    }
    const auto far = retry_after_hint(
        answer(503, "", {{"retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"}}), 1'700'000'000);
    ASSERT_TRUE(far.has_value());
    EXPECT_EQ(far->count(), 86'400'000);
    const auto small = retry_after_hint(answer(503, "", {{"retry-after-ms", "1500.2"}}), 0);
    ASSERT_TRUE(small.has_value());
    EXPECT_EQ(small->count(), 1501);
}

}  // namespace
}  // namespace voicegate::upstream
