#include "ratelimit/redis_url.hpp"

#include <gtest/gtest.h>

namespace voicegate::ratelimit {
namespace {

TEST(RedisUrl, ParsesTheDocumentedForms) {
    auto plain = parse_redis_url("redis://127.0.0.1:6380/2");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->host, "127.0.0.1");
    EXPECT_EQ(plain->port, 6380);
    EXPECT_EQ(plain->db, 2);
    EXPECT_TRUE(plain->password.empty());

    auto defaults = parse_redis_url("redis://cache.internal");
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->host, "cache.internal");
    EXPECT_EQ(defaults->port, 6379);
    EXPECT_EQ(defaults->db, 0);
    EXPECT_TRUE(parse_redis_url("redis://cache.internal/"));

    auto secret = parse_redis_url("redis://:p%40ss@10.0.0.5:6379/0");
    ASSERT_TRUE(secret);
    EXPECT_EQ(secret->password, "p@ss");
    EXPECT_TRUE(secret->username.empty());

    auto acl = parse_redis_url("redis://limiter:pw@[::1]:7000/1");
    ASSERT_TRUE(acl);
    EXPECT_EQ(acl->username, "limiter");
    EXPECT_EQ(acl->password, "pw");
    EXPECT_EQ(acl->host, "::1");
    EXPECT_EQ(acl->port, 7000);
}

TEST(RedisUrl, RedactedNeverShowsThePassword) {
    auto u = parse_redis_url("redis://limiter:hunter2@[::1]:7000/1");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->redacted(), "redis://limiter:***@[::1]:7000/1");
    EXPECT_EQ(parse_redis_url("redis://:hunter2@h:1/0")->redacted(), "redis://:***@h:1/0");
    EXPECT_EQ(parse_redis_url("redis://h")->redacted(), "redis://h:6379/0");
}

TEST(RedisUrl, RefusesWhatItCannotServeWithoutEchoingThePassword) {
    for (const char* bad : {
             "",
             "127.0.0.1:6379",
             "http://h:6379",
             "rediss://:hunter2@h:6379",
             "redis://:hunter2@h:0",
             "redis://:hunter2@h:70000",
             "redis://:hunter2@h:6379/x",
             "redis://:hunter2@h:6379/-1",
             "redis://:hunter2@h:6379/0?timeout=1",
             "redis://:hunter2@h:6379/0#x",
             "redis://:hunter2@:6379/0",
             "redis://user@h:6379",
             "redis://:hunter2@h:6379/0/1",
         }) {
        auto r = parse_redis_url(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, Error::bad_request);
        const auto msg = std::string(r.error().public_message());
        EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
        EXPECT_NE(msg.find("redis://"), std::string::npos) << msg;
    }
    EXPECT_NE(std::string(parse_redis_url("rediss://h").error().public_message()).find("TLS"),
              std::string::npos);
}

TEST(RedisUrl, RedactUrlText) {
    EXPECT_EQ(redact_url_text("redis://:pw@h:1/0"), "redis://:***@h:1/0");
    EXPECT_EQ(redact_url_text("redis://u:pw@h:1/0"), "redis://u:***@h:1/0");
    EXPECT_EQ(redact_url_text("redis://h:1/0"), "redis://h:1/0");
    EXPECT_EQ(redact_url_text("redis://u:p@w@h/0"), "redis://u:***@h/0");
}

}  // namespace
}  // namespace voicegate::ratelimit
