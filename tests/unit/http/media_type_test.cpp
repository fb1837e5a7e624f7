#include "http/media_type.hpp"

#include <gtest/gtest.h>

namespace voicegate::http {
namespace {

TEST(MediaType, LowercasedTypeWithoutParameters) {
    EXPECT_EQ(media_type("Application/JSON; charset=utf-8"), "application/json");
    EXPECT_EQ(media_type("  text/plain ;q=1"), "text/plain");
    EXPECT_EQ(media_type("json"), "");
    EXPECT_EQ(media_type("application/"), "");
    EXPECT_EQ(media_type("/json"), "");
    EXPECT_EQ(media_type("application/js on"), "");
    EXPECT_EQ(media_type(""), "");
}

// Probe 2026-12 D8: a case-sensitive substring match on "json".
TEST(MediaType, JsonIsApplicationJsonOrAPlusJsonSuffix) {
    for (const char* yes : {"application/json", "APPLICATION/JSON",
                            "application/json; charset=utf-8", "application/json;charset=UTF-8",
                            "application/problem+json", "application/vnd.api+JSON; ext=x"}) {
        EXPECT_TRUE(is_json_media_type(yes)) << yes;
    }
    for (const char* no :
         {"text/notjson", "application/jsonx", "text/json+x", "application/+json", "text/x+json",
          "json", "", "application/x-json-seq; a=json", "multipart/form-data; boundary=json"}) {
        EXPECT_FALSE(is_json_media_type(no)) << no;
    }
}

}  // namespace
}  // namespace voicegate::http
