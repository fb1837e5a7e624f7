#include <gtest/gtest.h>

#include "net/listen.hpp"

namespace voicegate::net {
namespace {

// Moved from tests/unit/core/config_test.cpp (Config.ParseListen) with parse_listen.
TEST(Listen, ParseListen) {
    std::string h;
    std::uint16_t p = 0;
    EXPECT_TRUE(parse_listen("[::1]:9000", h, p));
    EXPECT_EQ(h, "::1");
    EXPECT_EQ(p, 9000);
    EXPECT_FALSE(parse_listen("127.0.0.1", h, p));
    EXPECT_FALSE(parse_listen("127.0.0.1:99999", h, p));
}

}  // namespace
}  // namespace voicegate::net

namespace voicegate::net {
namespace {

TEST(Listen, IsLoopback) {
    for (const char* h : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"}) {
        EXPECT_TRUE(is_loopback(h)) << h;
    }
    for (const char* h : {"0.0.0.0", "10.0.0.1", "::", "example.com", "128.0.0.1"}) {
        EXPECT_FALSE(is_loopback(h)) << h;
    }
}

}  // namespace
}  // namespace voicegate::net
