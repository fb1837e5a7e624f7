#include "auth/jwt.hpp"

#include <string>

#include <gtest/gtest.h>

#include "support/jwt_factory.hpp"

namespace voicegate::auth {
namespace {

TEST(Base64Url, RoundTripsAllLengths) {
    std::string bytes;
    for (int i = 0; i < 70; ++i) {
        const auto enc = base64url_encode(bytes);
        EXPECT_EQ(enc.find('='), std::string::npos);
        auto dec = base64url_decode(enc);
        ASSERT_TRUE(dec.has_value()) << enc;
        EXPECT_EQ(*dec, bytes);
        bytes.push_back(static_cast<char>(i * 37 + 255));
    }
}

TEST(Base64Url, KnownVectors) {
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("fo"), "Zm8");
    EXPECT_EQ(base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
}

TEST(Base64Url, RejectsNonCanonicalInput) {
    EXPECT_FALSE(base64url_decode("Zg==").has_value());  // padding
    EXPECT_FALSE(base64url_decode("Z").has_value());     // impossible length
    EXPECT_FALSE(base64url_decode("Zh").has_value());    // non-zero trailing bits
    EXPECT_FALSE(base64url_decode("Zm+v").has_value());  // standard alphabet
    EXPECT_FALSE(base64url_decode("Zm/v").has_value());
    EXPECT_FALSE(base64url_decode("Zm9v ").has_value());
    EXPECT_FALSE(base64url_decode(std::string("Zm\0v", 4)).has_value());
    EXPECT_EQ(base64url_decode(""), std::string());
}

TEST(ParseJwt, SplitsAValidToken) {
    const auto token = test::compact(R"({"alg":"HS256","typ":"JWT","kid":"k1"})",
                                     R"({"sub":"u1","exp":5})", "sig");
    auto p = parse_jwt(token);
    ASSERT_TRUE(p) << p.error().detail;
    EXPECT_EQ(p->header.alg, "HS256");
    EXPECT_EQ(p->header.kid, "k1");
    EXPECT_EQ(p->header.typ, "JWT");
    EXPECT_EQ(p->claims.at("sub").as_string(), "u1");
    EXPECT_EQ(p->signature, "sig");
    EXPECT_EQ(p->signing_input, token.substr(0, token.rfind('.')));
}

struct MalformedCase {
    const char* name;
    std::string token;
    JwtReason reason;
};

class ParseJwtMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(ParseJwtMalformed, IsRefused) {
    const auto& c = GetParam();
    auto p = parse_jwt(c.token);
    ASSERT_FALSE(p) << c.name;
    EXPECT_EQ(p.error().reason, c.reason) << c.name << ": " << p.error().detail;
    // The detail never repeats the token.
    if (c.token.size() > 8) {
        EXPECT_EQ(p.error().detail.find(c.token), std::string::npos);
    }
}

const std::string kHeader = R"({"alg":"HS256"})";
const std::string kClaims = R"({"sub":"u"})";

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseJwtMalformed,
    ::testing::Values(
        MalformedCase{"empty", "", JwtReason::missing},
        MalformedCase{"one segment", "abc", JwtReason::malformed},
        MalformedCase{"two segments", base64url_encode(kHeader) + "." + base64url_encode(kClaims),
                      JwtReason::malformed},
        MalformedCase{"four segments", test::compact(kHeader, kClaims, "s") + ".x",
                      JwtReason::malformed},
        MalformedCase{"JWE five segments", "a.b.c.d.e", JwtReason::malformed},
        MalformedCase{"empty header", "." + base64url_encode(kClaims) + ".c2ln",
                      JwtReason::malformed},
        MalformedCase{"empty payload", base64url_encode(kHeader) + "..c2ln", JwtReason::malformed},
        MalformedCase{"header bad base64", "eyJ!!!." + base64url_encode(kClaims) + ".c2ln",
                      JwtReason::malformed},
        MalformedCase{"header padded", "eyJhbGciOiJIUzI1NiJ9=." + base64url_encode(kClaims) + ".",
                      JwtReason::malformed},
        MalformedCase{"payload bad base64", base64url_encode(kHeader) + ".%%%.c2ln",
                      JwtReason::malformed},
        MalformedCase{"signature bad base64",
                      base64url_encode(kHeader) + "." + base64url_encode(kClaims) + ".a+b/",
                      JwtReason::malformed},
        MalformedCase{"header not JSON", test::compact("not json", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"header truncated JSON", test::compact(R"({"alg":"HS2)", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"header is an array", test::compact(R"(["HS256"])", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"header is a string", test::compact(R"("HS256")", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"header without alg", test::compact(R"({"typ":"JWT"})", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"alg not a string", test::compact(R"({"alg":256})", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"alg empty", test::compact(R"({"alg":""})", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"kid not a string", test::compact(R"({"alg":"RS256","kid":7})", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"crit header",
                      test::compact(R"({"alg":"HS256","crit":["b64"],"b64":false})", kClaims, "s"),
                      JwtReason::malformed},
        MalformedCase{"claims not JSON", test::compact(kHeader, "{sub:u}", "s"),
                      JwtReason::malformed},
        MalformedCase{"claims an array", test::compact(kHeader, "[1,2]", "s"),
                      JwtReason::malformed},
        MalformedCase{"claims trailing garbage", test::compact(kHeader, R"({"sub":"u"}x)", "s"),
                      JwtReason::malformed},
        MalformedCase{"oversized", std::string(kMaxTokenBytes + 1, 'a'), JwtReason::oversized}),
    [](const auto& test_info) {
        std::string n = test_info.param.name;
        for (auto& c : n) {
            if (!std::isalnum(static_cast<unsigned char>(c))) {
                c = '_';
            }
        }
        return n;
    });

TEST(ParseJwt, OversizeIsRefusedBeforeDecoding) {
    // A huge but otherwise valid token: refused on size, not parsed.
    std::string claims = R"({"sub":"u","pad":")" + std::string(kMaxTokenBytes, 'x') + "\"}";
    auto p = parse_jwt(test::compact(kHeader, claims, "s"));
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().reason, JwtReason::oversized);
    // A custom limit applies too.
    auto small = parse_jwt(test::compact(kHeader, kClaims, "s"), 10);
    ASSERT_FALSE(small);
    EXPECT_EQ(small.error().reason, JwtReason::oversized);
}

TEST(ParseJwt, DeeplyNestedJsonIsMalformedNotACrash) {
    std::string deep(1000, '[');
    auto p = parse_jwt(test::compact(kHeader, R"({"a":)" + deep + "}", "s"));
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().reason, JwtReason::malformed);
}

TEST(ExtractBearer, AcceptsTheUsualForms) {
    EXPECT_EQ(extract_bearer("Bearer abc.def.ghi"), "abc.def.ghi");
    EXPECT_EQ(extract_bearer("bearer abc"), "abc");
    EXPECT_EQ(extract_bearer("BEARER abc"), "abc");
    EXPECT_EQ(extract_bearer("BeArEr abc"), "abc");
    EXPECT_EQ(extract_bearer("Bearer   abc"), "abc");
    EXPECT_EQ(extract_bearer("Bearer\tabc"), "abc");
    EXPECT_EQ(extract_bearer("  Bearer abc  "), "abc");
    EXPECT_EQ(extract_bearer("Bearer a-b_c~d+e/f=="), "a-b_c~d+e/f==");
}

TEST(ExtractBearer, RejectsEverythingElse) {
    EXPECT_FALSE(extract_bearer(""));
    EXPECT_FALSE(extract_bearer("Bearer"));
    EXPECT_FALSE(extract_bearer("Bearer "));
    EXPECT_FALSE(extract_bearer("Bearer    "));
    EXPECT_FALSE(extract_bearer("Bearerabc"));
    EXPECT_FALSE(extract_bearer("Basic dXNlcjpwYXNz"));
    EXPECT_FALSE(extract_bearer("Token abc"));
    EXPECT_FALSE(extract_bearer("Bearer abc def"));
    EXPECT_FALSE(extract_bearer("Bearer abc,Bearer def"));
    EXPECT_FALSE(extract_bearer("Bearer =abc"));
    EXPECT_FALSE(extract_bearer("Bearer ab=c"));
    EXPECT_FALSE(extract_bearer("Bearer \"abc\""));
    EXPECT_FALSE(extract_bearer(std::string("Bearer ab\0c", 11)));
}

TEST(SanitizeForDetails, KeepsPrintableAndTruncates) {
    EXPECT_EQ(sanitize_for_details("key-1"), "key-1");
    EXPECT_EQ(sanitize_for_details("a\nb\x01"), "a?b?");
    EXPECT_EQ(sanitize_for_details(std::string(100, 'k'), 10), "kkkkkkkkkk...");
}

TEST(JwtReason, HasStableNames) {
    EXPECT_EQ(to_string(JwtReason::unknown_kid), "unknown_kid");
    EXPECT_EQ(to_string(JwtReason::expired), "expired");
    EXPECT_EQ(to_string(JwtReason::alg_not_allowed), "alg_not_allowed");
}

}  // namespace
}  // namespace voicegate::auth
