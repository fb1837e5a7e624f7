// The shared text helpers of core/text.hpp: UTF-8-safe truncation, the JSON string escaper of
// every JSON-lines writer, and URL credential redaction.
#include "core/text.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace voicegate {
namespace {

// True if `text` parses as a JSON string body once quoted (Boost.JSON rejects invalid UTF-8).
bool parses_as_json_string(const std::string& escaped) {
    boost::system::error_code ec;
    auto v = boost::json::parse("\"" + escaped + "\"", ec);
    return !ec && v.is_string();
}

TEST(Utf8Prefix, NeverEndsInsideACharacter) {
    const std::string e_acute = "\xC3\xA9";  // é
    const std::string s = "a" + e_acute + e_acute;
    EXPECT_EQ(utf8_prefix(s, 2), "a");  // would cut é in half
    EXPECT_EQ(utf8_prefix(s, 3), "a" + e_acute);
    EXPECT_EQ(utf8_prefix(s, 64), s);
    const std::string euro = "\xE2\x82\xAC";       // 3 bytes
    const std::string emoji = "\xF0\x9F\x98\x80";  // 4 bytes
    EXPECT_EQ(utf8_prefix(euro + emoji, 6), euro);
    EXPECT_EQ(utf8_prefix(euro + emoji, 4), euro);
    EXPECT_EQ(utf8_prefix(euro, 2), "");
    // The probe's case: "a" + 40 × "é", cut at 64 bytes, is whole characters.
    std::string voice = "a";
    for (int i = 0; i < 40; ++i) {
        voice += e_acute;
    }
    const auto cut = utf8_prefix(voice, 64);
    EXPECT_EQ(cut.size(), 63U);
    EXPECT_TRUE(parses_as_json_string(std::string(cut)));
}

TEST(JsonEscape, EscapesQuotesAndControlsAndKeepsValidUtf8) {
    EXPECT_EQ(json_escape("a\"b\\c\n\t\x01"), "a\\\"b\\\\c\\n\\t\\u0001");
    EXPECT_EQ(json_escape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
              "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

// Probe 2026-12 D9: bytes that are not UTF-8 were copied into the access log as they came.
TEST(JsonEscape, ReplacesInvalidUtf8SoTheLineIsValidJson) {
    EXPECT_EQ(json_escape("/\xFF\xFE"), "/\\ufffd\\ufffd");
    for (const std::string bad : {"\x80", "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                  "\xE2\x82", "ok\xC3(", "\xF8\x88\x80\x80\x80"}) {
        const auto escaped = json_escape(bad);
        EXPECT_TRUE(parses_as_json_string(escaped)) << escaped;
    }
    EXPECT_EQ(json_escape("ok\xC3("), "ok\\ufffd(");
}

// Probe 2026-12 D4: the three messages that printed a password.
TEST(RedactUrlUserinfo, HidesThePasswordWhereverAUrlIsQuoted) {
    const auto libpq = redact_url_userinfo(
        "postgres: connect: invalid IPv6 host address in URI: \"postgres://u:PGLEAK3@[bad/db\"");
    EXPECT_EQ(libpq.find("PGLEAK3"), std::string::npos) << libpq;
    EXPECT_NE(libpq.find("\"postgres://u:***@[bad/db\""), std::string::npos) << libpq;
    EXPECT_EQ(redact_url_userinfo("JWKS: fetching https://u:JWKSLEAK@127.0.0.1:1/jwks.json failed"),
              "JWKS: fetching https://u:***@127.0.0.1:1/jwks.json failed");
    EXPECT_EQ(redact_url_userinfo("invalid upstream base URL 'http://user:PWLEAK@127.0.0.1:1/v1'"),
              "invalid upstream base URL 'http://user:***@127.0.0.1:1/v1'");
}

TEST(RedactUrlUserinfo, KeepsWhatIsNotASecret) {
    EXPECT_EQ(redact_url_userinfo("https://api.openai.com/v1"), "https://api.openai.com/v1");
    EXPECT_EQ(redact_url_userinfo("postgres://u@h/db"), "postgres://u@h/db");
    EXPECT_EQ(redact_url_userinfo("no url here"), "no url here");
    EXPECT_EQ(redact_url_userinfo("https://h/users/@me"), "https://h/users/@me");
    EXPECT_EQ(redact_url_userinfo("a http://x:1@h and b redis://:p@r:6379/0"),
              "a http://x:***@h and b redis://:***@r:6379/0");
}

TEST(RedactUrlUserinfo, MalformedUrlsAndPasswordParameters) {
    // A password holding '/' or '@' is still hidden as a whole.
    EXPECT_EQ(redact_url_userinfo("postgres://u:pa/ss@h/db"), "postgres://u:***@h/db");
    EXPECT_EQ(redact_url_userinfo("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
    EXPECT_EQ(redact_url_userinfo("postgres://h/db?sslmode=require&password=x"),
              "postgres://h/db?sslmode=require&password=***");
    EXPECT_EQ(redact_url_userinfo("host=h password=hunter2 dbname=d"),
              "host=h password=*** dbname=d");
}

}  // namespace
}  // namespace voicegate
