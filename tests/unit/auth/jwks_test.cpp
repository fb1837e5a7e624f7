#include "auth/jwks.hpp"

#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "auth/jwt.hpp"
#include "support/jwt_factory.hpp"

namespace voicegate::auth {
namespace {
namespace json = boost::json;
using test::shared_ec_key;
using test::shared_p384_key;
using test::shared_rsa_key;


// Parses a one-key JWKS and returns the skip reason ("" if the key was kept).
std::string skip_reason(const json::object& jwk) {
    auto set = parse_jwks(test::jwks_json({jwk}));
    EXPECT_TRUE(set) << set.error().message;
    if (!set) {
        return "document failed";
    }
    if (set->keys.size() == 1) {
        return "";
    }
    EXPECT_EQ(set->skipped.size(), 1U);
    return set->skipped.empty() ? "?" : set->skipped.front();
}

TEST(ParseJwks, BuildsRsaAndP256Keys) {
    auto set = parse_jwks(test::jwks_json({shared_rsa_key().public_jwk("r1", "RS256"),
                                           shared_ec_key().public_jwk("e1", "ES256"),
                                           shared_ec_key().public_jwk("e2", "", "")}));
    ASSERT_TRUE(set) << set.error().message;
    ASSERT_EQ(set->keys.size(), 3U);
    EXPECT_TRUE(set->skipped.empty());
    EXPECT_EQ(set->keys[0].kid, "r1");
    EXPECT_EQ(set->keys[0].kind, KeyKind::rsa);
    EXPECT_EQ(set->keys[1].kind, KeyKind::ec_p256);
    EXPECT_EQ(set->keys[2].alg, "");
    EXPECT_TRUE(set->supports("RS256"));
    EXPECT_TRUE(set->supports("ES256"));
    EXPECT_FALSE(set->supports("HS256"));
    EXPECT_TRUE(set->has_kid("e2"));
    EXPECT_FALSE(set->has_kid("nope"));
}

TEST(ParseJwks, KeysAcceptOnlyTheirOwnAlgorithm) {
    auto set = parse_jwks(
        test::jwks_json({shared_rsa_key().public_jwk("r", ""), shared_ec_key().public_jwk("e", ""),
                         shared_rsa_key().public_jwk("r-pinned", "RS256")}));
    ASSERT_TRUE(set);
    const auto& rsa = set->keys[0];
    const auto& ec = set->keys[1];
    EXPECT_TRUE(rsa.accepts("RS256"));
    EXPECT_FALSE(rsa.accepts("ES256"));
    EXPECT_FALSE(rsa.accepts("HS256"));
    EXPECT_FALSE(rsa.accepts("PS256"));
    EXPECT_FALSE(rsa.accepts("none"));
    EXPECT_TRUE(ec.accepts("ES256"));
    EXPECT_FALSE(ec.accepts("RS256"));
    EXPECT_FALSE(ec.accepts("HS256"));
    EXPECT_FALSE(ec.accepts("ES384"));
    EXPECT_TRUE(set->keys[2].accepts("RS256"));
}

TEST(ParseJwks, EmptyKeySetIsValid) {
    // A Supabase project on the legacy HS256 secret publishes no keys.
    auto set = parse_jwks(R"({"keys":[]})");
    ASSERT_TRUE(set);
    EXPECT_TRUE(set->keys.empty());
}

TEST(ParseJwks, RefusesUnusableDocuments) {
    for (const char* doc :
         {"", "not json", "[]", R"({"keys":{}})", R"({"key":[]})", "null", R"({"keys":"x"})"}) {
        auto set = parse_jwks(doc);
        EXPECT_FALSE(set) << doc;
    }
    auto big = parse_jwks(std::string(kMaxJwksBytes + 1, ' '));
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().message.find("larger"), std::string::npos);
}

TEST(ParseJwks, SkipsUnusableKeysWithAReason) {
    auto rsa = shared_rsa_key().public_jwk("r", "RS256");
    auto ec = shared_ec_key().public_jwk("e", "ES256");

    EXPECT_NE(skip_reason(json::object{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "h"}})
                  .find("symmetric"),
              std::string::npos);
    EXPECT_NE(skip_reason(shared_p384_key().public_jwk("p384", "ES384")).find("P-384"),
              std::string::npos);
    // A P-384 key that claims ES256 is still refused on its curve.
    EXPECT_NE(skip_reason(shared_p384_key().public_jwk("p384", "ES256")).find("curve"),
              std::string::npos);
    EXPECT_NE(skip_reason(json::object{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}})
                  .find("not supported"),
              std::string::npos);
    EXPECT_NE(skip_reason(json::object{{"kid", "x"}}).find("kty"), std::string::npos);

    auto enc = rsa;
    enc["use"] = "enc";
    EXPECT_NE(skip_reason(enc).find("use"), std::string::npos);
    auto ops = rsa;
    ops["key_ops"] = json::array{"encrypt"};
    EXPECT_NE(skip_reason(ops).find("key_ops"), std::string::npos);
    auto ops_ok = rsa;
    ops_ok["key_ops"] = json::array{"verify"};
    EXPECT_EQ(skip_reason(ops_ok), "");

    auto rs512 = rsa;
    rs512["alg"] = "RS512";
    EXPECT_NE(skip_reason(rs512).find("RS512"), std::string::npos);
    auto rsa_as_es = rsa;
    rsa_as_es["alg"] = "ES256";
    EXPECT_NE(skip_reason(rsa_as_es).find("only RS256"), std::string::npos);
    auto ec_as_rs = ec;
    ec_as_rs["alg"] = "RS256";
    EXPECT_NE(skip_reason(ec_as_rs).find("only ES256"), std::string::npos);

    auto priv = rsa;
    priv["d"] = "AQAB";
    EXPECT_NE(skip_reason(priv).find("private"), std::string::npos);

    auto bad_n = rsa;
    bad_n["n"] = "!!!";
    EXPECT_NE(skip_reason(bad_n).find("base64url"), std::string::npos);
    auto no_e = rsa;
    no_e.erase("e");
    EXPECT_NE(skip_reason(no_e).find("'e'"), std::string::npos);

    auto kid_num = rsa;
    kid_num["kid"] = 5;
    EXPECT_NE(skip_reason(kid_num).find("kid"), std::string::npos);

    auto set = parse_jwks(R"({"keys":[1,"x",null]})");
    ASSERT_TRUE(set);
    EXPECT_EQ(set->skipped.size(), 3U);
}

TEST(ParseJwks, RefusesWeakOrBrokenRsaKeys) {
    const auto small = test::TestKey::rsa(1024);
    EXPECT_NE(skip_reason(small.public_jwk("small", "RS256")).find("1024 bits"), std::string::npos);

    auto even = shared_rsa_key().public_jwk("even", "RS256");
    auto n = *base64url_decode(even["n"].as_string());
    n.back() = static_cast<char>(n.back() & ~1);
    even["n"] = base64url_encode(n);
    EXPECT_NE(skip_reason(even).find("even"), std::string::npos);

    auto e1 = shared_rsa_key().public_jwk("e1", "RS256");
    e1["e"] = base64url_encode(std::string(1, '\x01'));
    EXPECT_NE(skip_reason(e1).find("exponent"), std::string::npos);
}

TEST(ParseJwks, RefusesEcPointsOffTheCurveOrOfTheWrongSize) {
    auto off = shared_ec_key().public_jwk("off", "ES256");
    auto y = *base64url_decode(off["y"].as_string());
    y.back() = static_cast<char>(y.back() ^ 1);
    off["y"] = base64url_encode(y);
    EXPECT_NE(skip_reason(off).find("not on the curve"), std::string::npos);

    // P-384 coordinates dressed up as P-256.
    auto dressed = shared_p384_key().public_jwk("dressed", "ES256");
    dressed["crv"] = "P-256";
    EXPECT_NE(skip_reason(dressed).find("32 bytes"), std::string::npos);

    auto short_x = shared_ec_key().public_jwk("short", "ES256");
    short_x["x"] = base64url_encode(std::string(31, '\x01'));
    EXPECT_NE(skip_reason(short_x).find("32 bytes"), std::string::npos);
}

TEST(ParseJwks, KeepsAtMostTheKeyLimit) {
    std::vector<json::object> keys(kMaxJwksKeys + 3, shared_ec_key().public_jwk("same", "ES256"));
    auto set = parse_jwks(test::jwks_json(keys));
    ASSERT_TRUE(set);
    EXPECT_EQ(set->keys.size(), kMaxJwksKeys);
    EXPECT_EQ(set->skipped.size(), 3U);
}

TEST(JwksCache, StartsEmptyAndSwapsSnapshots) {
    JwksCache cache;
    auto before = cache.snapshot();
    ASSERT_NE(before, nullptr);
    EXPECT_TRUE(before->keys.empty());
    EXPECT_EQ(cache.generation(), 0U);

    auto set = parse_jwks(test::jwks_json({shared_ec_key().public_jwk("e1", "ES256")}));
    ASSERT_TRUE(set);
    cache.update(std::move(*set));
    EXPECT_EQ(cache.generation(), 1U);
    EXPECT_TRUE(before->keys.empty());  // an old snapshot is never mutated
    EXPECT_TRUE(cache.snapshot()->has_kid("e1"));
}

TEST(JwksCache, RefreshesAtMostOncePerInterval) {
    JwksCache cache(30'000);
    const std::int64_t t0 = 1'790'000'000'000;
    EXPECT_TRUE(cache.should_refresh(t0));
    EXPECT_FALSE(cache.should_refresh(t0));
    EXPECT_FALSE(cache.should_refresh(t0 + 29'999));
    EXPECT_TRUE(cache.should_refresh(t0 + 30'000));
    EXPECT_FALSE(cache.should_refresh(t0 + 30'001));
    // A clock that jumps backwards does not block refreshes forever.
    EXPECT_TRUE(cache.should_refresh(t0 - 1'000'000));
}

TEST(JwksCache, ConcurrentCallersGetOneRefresh) {
    JwksCache cache(30'000);
    std::atomic<int> granted{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            for (int j = 0; j < 1000; ++j) {
                if (cache.should_refresh(5'000'000)) {
                    ++granted;
                }
                EXPECT_NE(cache.snapshot(), nullptr);
            }
        });
    }
    for (int j = 0; j < 100; ++j) {
        cache.update(KeySet{});
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(granted.load(), 1);
    EXPECT_EQ(cache.generation(), 100U);
}

}  // namespace
}  // namespace voicegate::auth
