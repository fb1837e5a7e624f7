#pragma once

#include <cstdlib>
#include <optional>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace voicegate::test {

/// The Redis of this test run: `VOICEGATE_TEST_REDIS_URL` (scripts/services.sh exports it,
/// e.g. redis://127.0.0.1:PORT/0), or nullopt when unset or empty.
inline std::optional<std::string> test_redis_url() {
    const char* v = std::getenv("VOICEGATE_TEST_REDIS_URL");
    if (v == nullptr || *v == '\0') {
        return std::nullopt;
    }
    return std::string(v);
}

/// True when `VOICEGATE_ALLOW_NO_REDIS=1`: Redis suites skip instead of failing without Redis.
inline bool allow_no_redis() {
    const char* v = std::getenv("VOICEGATE_ALLOW_NO_REDIS");
    return v != nullptr && std::string(v) == "1";
}

/// A key prefix no other test (or test process) uses, so suites can share one Redis.
inline std::string unique_key_prefix() {
    std::random_device rd;
    const auto n = (static_cast<unsigned long long>(rd()) << 32U) ^ rd();
    return "vgtest:" + std::to_string(n) + ":";
}

}  // namespace voicegate::test

/// Sets `out` to the test Redis URL. Without one, the test FAILS with instructions (a skipped
/// Redis suite in CI is a defect, STYLE §6.5), unless VOICEGATE_ALLOW_NO_REDIS=1 skips it.
/// Use in a test body or SetUp().
#define VOICEGATE_REQUIRE_TEST_REDIS(out)                                                    \
    do {                                                                                     \
        auto vg_redis_url_ = ::voicegate::test::test_redis_url();                            \
        if (!vg_redis_url_) {                                                                \
            if (::voicegate::test::allow_no_redis()) {                                       \
                GTEST_SKIP() << "VOICEGATE_TEST_REDIS_URL is not set; skipped because "      \
                                "VOICEGATE_ALLOW_NO_REDIS=1";                                \
            }                                                                                \
            FAIL() << "VOICEGATE_TEST_REDIS_URL is not set: this suite needs a real Redis. " \
                      "Run `make test` (it starts one), or `eval \"$(scripts/services.sh "   \
                      "start)\"` before running the tests, or set "                          \
                      "VOICEGATE_TEST_REDIS_URL=redis://127.0.0.1:PORT/0 yourself; "         \
                      "VOICEGATE_ALLOW_NO_REDIS=1 skips it instead.";                        \
        }                                                                                    \
        (out) = *vg_redis_url_;                                                              \
    } while (false)
