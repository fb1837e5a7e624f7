#include "auth/jwt_verifier.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "auth/jwks.hpp"
#include "auth/jwt.hpp"
#include "fakes/manual_clock.hpp"
#include "support/jwt_factory.hpp"

namespace voicegate::auth {
namespace {
namespace json = boost::json;
using test::shared_ec_key;
using test::shared_p384_key;
using test::shared_rsa_key;

// Supabase's well-known local-development secret: 40+ bytes, used as raw bytes.
const std::string kSecret = "super-secret-jwt-token-with-at-least-32-characters-long";
const std::string kIssuer = "https://abcdefghijklmnop.supabase.co/auth/v1";
const std::string kUserId = "5f0c7c6e-1b7a-4f5c-9a0e-3f1d2c3b4a59";

JwtConfig config(std::string secret, std::string issuer = {},
                 std::vector<std::string> audiences = {}) {
    JwtConfig c;
    c.hs256_secret = std::move(secret);
    c.issuer = std::move(issuer);
    c.audiences = std::move(audiences);
    return c;
}

const test::TestKey& other_ec_key() {
    static const auto k = test::TestKey::ec("P-256");
    return k;
}

class JwtVerifierTest : public ::testing::Test {
protected:
    JwtVerifierTest() {
        auto set = parse_jwks(test::jwks_json({shared_rsa_key().public_jwk("rsa-1", "RS256"),
                                               shared_ec_key().public_jwk("ec-1", "ES256"),
                                               shared_p384_key().public_jwk("p384", "ES384")}));
        EXPECT_TRUE(set);
        EXPECT_EQ(set->keys.size(), 2U);  // the P-384 key is skipped
        jwks_.update(std::move(*set));
    }

    std::int64_t now() const { return clock_.now_s(); }

    json::object claims(std::int64_t exp_offset = 3600) const {
        return json::object{{"sub", kUserId},         {"role", "authenticated"},
                            {"aud", "authenticated"}, {"iss", kIssuer},
                            {"iat", now()},           {"exp", now() + exp_offset}};
    }

    static json::object header(std::string_view alg, std::string_view kid = {}) {
        json::object h{{"alg", alg}, {"typ", "JWT"}};
        if (!kid.empty()) {
            h["kid"] = kid;
        }
        return h;
    }

    JwtVerifier verifier(JwtConfig cfg, bool with_jwks = true) const {
        auto v = JwtVerifier::create(std::move(cfg), with_jwks ? &jwks_ : nullptr, clock_);
        EXPECT_TRUE(v) << v.error().message;
        return std::move(*v);
    }
    JwtVerifier full() const { return verifier(config(kSecret, kIssuer, {"authenticated"})); }

    // Asserts that `token` is refused for `reason`, with a public message and details that
    // never carry the token.
    static void expect_refused(const JwtVerifier& v, const std::string& token, JwtReason reason,
                               std::string_view message = "invalid token") {
        const auto r = v.verify_detailed(token);
        ASSERT_FALSE(r.claims) << "accepted a token that must fail: " << to_string(reason);
        EXPECT_EQ(r.reason, reason) << r.claims.error().details;
        const auto& f = r.claims.error();
        EXPECT_EQ(f.code, Error::unauthorized);
        EXPECT_EQ(f.status(), 401);
        EXPECT_EQ(f.public_message(), message);
        EXPECT_EQ(f.details.rfind(std::string(to_string(reason)), 0), 0U) << f.details;
        if (!token.empty()) {
            EXPECT_EQ(f.details.find(token), std::string::npos);
            EXPECT_EQ(f.message.find(token), std::string::npos);
            const auto sig = token.substr(token.rfind('.') + 1);
            if (sig.size() > 8) {
                EXPECT_EQ(f.details.find(sig), std::string::npos);
            }
        }
    }

    test::ManualClock clock_;
    JwksCache jwks_;
};

// ---- Accepted tokens --------------------------------------------------------------------

TEST_F(JwtVerifierTest, AcceptsHs256) {
    const auto v = full();
    auto r = v.verify(test::sign_hs256(header("HS256"), claims(), kSecret));
    ASSERT_TRUE(r) << r.error().details;
    EXPECT_EQ(r->sub, kUserId);
    EXPECT_EQ(r->role, "authenticated");
    EXPECT_EQ(r->iss, kIssuer);
    EXPECT_EQ(r->aud, std::vector<std::string>{"authenticated"});
    EXPECT_EQ(r->exp, now() + 3600);
    EXPECT_EQ(r->raw.at("sub").as_string(), kUserId);
}

TEST_F(JwtVerifierTest, AcceptsRs256) {
    const auto v = full();
    auto r = v.verify(test::sign_rs256(header("RS256", "rsa-1"), claims(), shared_rsa_key()));
    ASSERT_TRUE(r) << r.error().details;
    EXPECT_EQ(r->sub, kUserId);
    EXPECT_EQ(r->role, "authenticated");
}

TEST_F(JwtVerifierTest, AcceptsEs256) {
    const auto v = full();
    auto r = v.verify(test::sign_es256(header("ES256", "ec-1"), claims(), shared_ec_key()));
    ASSERT_TRUE(r) << r.error().details;
    EXPECT_EQ(r->sub, kUserId);
}

TEST_F(JwtVerifierTest, AcceptsAsymmetricTokensWithoutKid) {
    const auto v = full();
    EXPECT_TRUE(v.verify(test::sign_es256(header("ES256"), claims(), shared_ec_key())));
    EXPECT_TRUE(v.verify(test::sign_rs256(header("RS256"), claims(), shared_rsa_key())));
}

TEST_F(JwtVerifierTest, AcceptsSupabaseAccessTokens) {
    // The shape GoTrue issues: asymmetric (JWKS, ES256 by default) and legacy HS256.
    const json::object supabase_claims{
        {"iss", kIssuer},
        {"sub", kUserId},
        {"aud", "authenticated"},
        {"exp", now() + 3600},
        {"iat", now()},
        {"email", "diary@example.com"},
        {"phone", ""},
        {"app_metadata", json::object{{"provider", "email"}, {"providers", json::array{"email"}}}},
        {"user_metadata", json::object{{"email_verified", true}}},
        {"role", "authenticated"},
        {"aal", "aal1"},
        {"amr", json::array{json::object{{"method", "password"}, {"timestamp", now()}}}},
        {"session_id", "0b6a3e0e-9a43-4c8e-8f7e-3a1c3c1b2d4e"},
        {"is_anonymous", false}};
    const auto v = verifier(config(kSecret, kIssuer, {"authenticated"}));
    for (const auto& token :
         {test::sign_es256(header("ES256", "ec-1"), supabase_claims, shared_ec_key()),
          test::sign_rs256(header("RS256", "rsa-1"), supabase_claims, shared_rsa_key()),
          test::sign_hs256(header("HS256"), supabase_claims, kSecret)}) {
        auto r = v.verify(token);
        ASSERT_TRUE(r) << r.error().details;
        EXPECT_EQ(r->sub, kUserId);
        EXPECT_EQ(r->role, "authenticated");
        EXPECT_EQ(r->raw.at("email").as_string(), "diary@example.com");
    }
}

TEST_F(JwtVerifierTest, AcceptsAudienceArraysAndUncheckedClaims) {
    auto c = claims();
    c["aud"] = json::array{"other", "authenticated"};
    auto r = full().verify(test::sign_hs256(header("HS256"), c, kSecret));
    ASSERT_TRUE(r) << r.error().details;
    EXPECT_EQ(r->aud.size(), 2U);

    // Without configured iss/aud, neither is required.
    c.erase("aud");
    c.erase("iss");
    c.erase("role");
    auto open = verifier(config(kSecret));
    auto r2 = open.verify(test::sign_hs256(header("HS256"), c, kSecret));
    ASSERT_TRUE(r2) << r2.error().details;
    EXPECT_TRUE(r2->aud.empty());
    EXPECT_EQ(r2->role, "");
}

TEST_F(JwtVerifierTest, AcceptsAdminRoleAndNumericDateForms) {
    auto c = claims();
    c["role"] = "admin";
    c["exp"] = static_cast<double>(now()) + 100.5;  // NumericDate may be fractional
    auto r = full().verify(test::sign_hs256(header("HS256"), c, kSecret));
    ASSERT_TRUE(r) << r.error().details;
    EXPECT_EQ(r->role, "admin");
    EXPECT_EQ(r->exp, now() + 100);

    c["exp"] = std::numeric_limits<std::uint64_t>::max();  // far future, no overflow
    EXPECT_TRUE(full().verify(test::sign_hs256(header("HS256"), c, kSecret)));

    c["exp"] = now() + 60;
    c["role"] = json::array{"admin"};  // not a string: no role, never more privilege
    auto r2 = full().verify(test::sign_hs256(header("HS256"), c, kSecret));
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->role, "");
}

TEST_F(JwtVerifierTest, VerifiesAuthorizationHeaders) {
    const auto v = full();
    const auto token = test::sign_hs256(header("HS256"), claims(), kSecret);
    EXPECT_TRUE(v.verify_authorization("Bearer " + token).claims);
    EXPECT_TRUE(v.verify_authorization("bearer  " + token).claims);
    for (const auto& h : std::vector<std::string>{"", "Basic dXNlcjpwYXNz", "Bearer", token}) {
        auto r = v.verify_authorization(h);
        ASSERT_FALSE(r.claims);
        EXPECT_EQ(r.reason, JwtReason::missing);
        EXPECT_EQ(r.claims.error().public_message(), "missing bearer token");
    }
}

// ---- The attack suite -------------------------------------------------------------------

TEST_F(JwtVerifierTest, RefusesAlgNone) {
    const auto v = full();
    for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
        const auto unsigned_input = test::signing_input(header(alg), claims());
        expect_refused(v, unsigned_input + ".", JwtReason::unsupported_alg);
        // ... even with a signature that is valid HMAC of the input.
        expect_refused(
            v, unsigned_input + "." + base64url_encode(test::hmac_sha256(kSecret, unsigned_input)),
            JwtReason::unsupported_alg);
    }
}

TEST_F(JwtVerifierTest, RefusesHs256SignedWithThePublicKey) {
    // The classic key-confusion attack: HMAC keyed with the server's public RSA/EC key.
    const auto rsa_jwk = shared_rsa_key().public_jwk("rsa-1");
    const std::vector<std::string> public_bytes = {shared_rsa_key().public_pem(),
                                                   shared_rsa_key().public_der(),
                                                   shared_ec_key().public_pem(),
                                                   shared_ec_key().public_der(),
                                                   *base64url_decode(rsa_jwk.at("n").as_string()),
                                                   json::serialize(rsa_jwk)};

    const auto jwks_only = verifier(config("", kIssuer, {"authenticated"}));
    const auto both = full();
    for (const auto& key : public_bytes) {
        for (const char* kid : {"", "rsa-1", "ec-1"}) {
            const auto token = test::sign_hs256(header("HS256", kid), claims(), key);
            expect_refused(jwks_only, token, JwtReason::alg_not_allowed);
            expect_refused(both, token, JwtReason::bad_signature);
        }
    }
}

TEST_F(JwtVerifierTest, RefusesUnconfiguredAlgorithms) {
    // HS256 without a secret; RS256/ES256 without a JWKS.
    const auto jwks_only = verifier(config("", kIssuer));
    expect_refused(jwks_only, test::sign_hs256(header("HS256"), claims(), kSecret),
                   JwtReason::alg_not_allowed);
    const auto secret_only = verifier(config(kSecret), false);
    expect_refused(secret_only,
                   test::sign_rs256(header("RS256", "rsa-1"), claims(), shared_rsa_key()),
                   JwtReason::alg_not_allowed);
    expect_refused(secret_only,
                   test::sign_es256(header("ES256", "ec-1"), claims(), shared_ec_key()),
                   JwtReason::alg_not_allowed);

    const auto v = full();
    for (const char* alg : {"HS384", "HS512", "RS384", "RS512", "PS256", "ES384", "ES512", "EdDSA",
                            "RSA-OAEP", "dir", "hs256", "rs256"}) {
        const auto in = test::signing_input(header(alg, "rsa-1"), claims());
        expect_refused(v, in + "." + base64url_encode(test::rsa_sha256(shared_rsa_key(), in)),
                       JwtReason::unsupported_alg);
    }
}

TEST_F(JwtVerifierTest, RefusesKeysOfTheWrongType) {
    const auto v = full();
    // RS256 header pointing at the EC key (signed with RSA, or with the EC key itself).
    expect_refused(v, test::sign_rs256(header("RS256", "ec-1"), claims(), shared_rsa_key()),
                   JwtReason::key_mismatch);
    {
        const auto in = test::signing_input(header("RS256", "ec-1"), claims());
        expect_refused(v, in + "." + base64url_encode(test::ecdsa_sha256_der(shared_ec_key(), in)),
                       JwtReason::key_mismatch);
    }
    // ES256 header pointing at the RSA key.
    expect_refused(v, test::sign_es256(header("ES256", "rsa-1"), claims(), shared_ec_key()),
                   JwtReason::key_mismatch);
    // RS256 signature under an ES256 header, no kid: the EC key refuses it.
    {
        const auto in = test::signing_input(header("ES256"), claims());
        expect_refused(v, in + "." + base64url_encode(test::rsa_sha256(shared_rsa_key(), in)),
                       JwtReason::bad_signature);
    }
}

TEST_F(JwtVerifierTest, RefusesEs256OnTheWrongCurve) {
    const auto v = full();
    // The P-384 key was skipped at JWKS parsing: its kid is unknown.
    expect_refused(v, test::sign_es256(header("ES256", "p384"), claims(), shared_p384_key()),
                   JwtReason::unknown_kid);
    // A P-384 signature (96 bytes r||s) presented for the P-256 key.
    expect_refused(v, test::sign_es256(header("ES256", "ec-1"), claims(), shared_p384_key()),
                   JwtReason::bad_signature);
    // Same, no kid.
    expect_refused(v, test::sign_es256(header("ES256"), claims(), shared_p384_key()),
                   JwtReason::bad_signature);
}

TEST_F(JwtVerifierTest, RefusesEs256InDerForm) {
    const auto in = test::signing_input(header("ES256", "ec-1"), claims());
    expect_refused(full(), in + "." + base64url_encode(test::ecdsa_sha256_der(shared_ec_key(), in)),
                   JwtReason::bad_signature);
}

TEST_F(JwtVerifierTest, RefusesBadSignatures) {
    const auto v = full();
    const auto flip_last_sig_char = [](std::string t) {
        auto& c = t[t.rfind('.') + 2];  // not the last char: it may carry unused bits
        c = c == 'A' ? 'B' : 'A';
        return t;
    };
    expect_refused(v, flip_last_sig_char(test::sign_hs256(header("HS256"), claims(), kSecret)),
                   JwtReason::bad_signature);
    expect_refused(v, test::sign_hs256(header("HS256"), claims(), kSecret + "x"),
                   JwtReason::bad_signature);
    expect_refused(
        v,
        flip_last_sig_char(test::sign_rs256(header("RS256", "rsa-1"), claims(), shared_rsa_key())),
        JwtReason::bad_signature);
    expect_refused(
        v, flip_last_sig_char(test::sign_es256(header("ES256", "ec-1"), claims(), shared_ec_key())),
        JwtReason::bad_signature);
    expect_refused(v, test::sign_es256(header("ES256", "ec-1"), claims(), other_ec_key()),
                   JwtReason::bad_signature);

    // Truncated or empty signatures, and a payload swapped under a good signature.
    const auto good = test::sign_hs256(header("HS256"), claims(), kSecret);
    const auto head = good.substr(0, good.rfind('.') + 1);
    expect_refused(v, head, JwtReason::bad_signature);
    expect_refused(v, good.substr(0, good.size() - 3), JwtReason::bad_signature);  // 30 bytes
    auto evil = claims();
    evil["sub"] = "someone-else";
    const auto forged = test::signing_input(header("HS256"), evil) + good.substr(good.rfind('.'));
    expect_refused(v, forged, JwtReason::bad_signature);

    // An all-zero ES256 signature (r = s = 0) is refused, not a crash.
    const auto in = test::signing_input(header("ES256", "ec-1"), claims());
    expect_refused(v, in + "." + base64url_encode(std::string(64, '\0')), JwtReason::bad_signature);
    expect_refused(v, in + "." + base64url_encode(std::string(63, '\1')), JwtReason::bad_signature);
}

TEST_F(JwtVerifierTest, RefusesExpiredTokensWithLeeway) {
    const auto v = full();
    const auto at = [&](std::int64_t offset) {
        return test::sign_hs256(header("HS256"), claims(offset), kSecret);
    };
    EXPECT_TRUE(v.verify(at(-29)));
    expect_refused(v, at(-30), JwtReason::expired, "token expired");
    expect_refused(v, at(-31), JwtReason::expired, "token expired");
    expect_refused(v, at(-100'000), JwtReason::expired, "token expired");

    // The same token crosses the edge as the clock moves.
    const auto token = at(10);
    EXPECT_TRUE(v.verify(token));
    clock_.advance_ms(39'999);
    EXPECT_TRUE(v.verify(token));
    clock_.advance_ms(1);
    expect_refused(v, token, JwtReason::expired, "token expired");
}

TEST_F(JwtVerifierTest, RequiresANumericExp) {
    const auto v = full();
    auto c = claims();
    c.erase("exp");
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::malformed);
    for (const json::value& bad : {json::value("9999999999"), json::value(true),
                                   json::value(nullptr), json::value(json::array{now() + 60})}) {
        c["exp"] = bad;
        expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::malformed);
    }
}

TEST_F(JwtVerifierTest, RefusesNotYetValidTokens) {
    const auto v = full();
    auto c = claims();
    c["nbf"] = now() + 29;
    EXPECT_TRUE(v.verify(test::sign_hs256(header("HS256"), c, kSecret)));
    c["nbf"] = now() + 31;
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::not_yet_valid,
                   "token not yet valid");
    c["nbf"] = "soon";
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::malformed);

    c = claims();
    c["iat"] = now() + 29;
    EXPECT_TRUE(v.verify(test::sign_hs256(header("HS256"), c, kSecret)));
    c["iat"] = now() + 31;
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::issued_in_future,
                   "token not yet valid");

    // It becomes valid once the clock catches up.
    c["nbf"] = now() + 100;
    c["iat"] = now();
    const auto token = test::sign_hs256(header("HS256"), c, kSecret);
    expect_refused(v, token, JwtReason::not_yet_valid, "token not yet valid");
    clock_.advance_ms(70'000);
    EXPECT_TRUE(v.verify(token));
}

TEST_F(JwtVerifierTest, RefusesWrongIssuer) {
    const auto v = full();
    auto c = claims();
    c["iss"] = "https://evil.supabase.co/auth/v1";
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::wrong_issuer);
    c["iss"] = kIssuer + "/";
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::wrong_issuer);
    c.erase("iss");
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::wrong_issuer);
    c["iss"] = 42;
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::malformed);
}

TEST_F(JwtVerifierTest, RefusesWrongAudience) {
    const auto v = full();
    auto c = claims();
    c["aud"] = "anon";
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::wrong_audience);
    c["aud"] = json::array{"anon", "service_role"};
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::wrong_audience);
    c["aud"] = json::array{};
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::wrong_audience);
    c.erase("aud");
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::wrong_audience);
    c["aud"] = json::array{"authenticated", 7};
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::malformed);
    c["aud"] = json::object{{"aud", "authenticated"}};
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::malformed);
}

TEST_F(JwtVerifierTest, RequiresASubject) {
    const auto v = full();
    auto c = claims();
    c.erase("sub");
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::missing_subject);
    for (const json::value& bad : {json::value(""), json::value(12345), json::value(nullptr),
                                   json::value(std::string(kMaxSubjectBytes + 1, 'u'))}) {
        c["sub"] = bad;
        expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret),
                       JwtReason::missing_subject);
    }
}

TEST_F(JwtVerifierTest, RefusesMalformedAndOversizedTokens) {
    const auto v = full();
    const auto good = test::sign_hs256(header("HS256"), claims(), kSecret);
    const auto dot1 = good.find('.');
    const auto dot2 = good.rfind('.');
    expect_refused(v, good.substr(0, dot2), JwtReason::malformed);   // 2 segments
    expect_refused(v, good + ".x", JwtReason::malformed);            // 4 segments
    expect_refused(v, "!!" + good.substr(2), JwtReason::malformed);  // bad base64
    expect_refused(v, good.substr(0, dot1) + ".%%" + good.substr(dot2), JwtReason::malformed);
    expect_refused(v, test::compact("not json", "{}", "sig"), JwtReason::malformed);
    expect_refused(v, test::compact(R"(["alg","HS256"])", "{}", "sig"), JwtReason::malformed);
    expect_refused(v, test::compact(R"({"alg":"HS256"})", "[]", "sig"), JwtReason::malformed);
    expect_refused(v, "", JwtReason::missing, "missing bearer token");

    auto c = claims();
    c["pad"] = std::string(kMaxTokenBytes, 'x');
    expect_refused(v, test::sign_hs256(header("HS256"), c, kSecret), JwtReason::oversized);
    expect_refused(v, std::string(1 << 20, 'a'), JwtReason::oversized);
}

TEST_F(JwtVerifierTest, UnknownKidAsksForARefreshThatThenSucceeds) {
    const auto v = full();
    const auto rotated = test::TestKey::ec("P-256");
    const auto token = test::sign_es256(header("ES256", "ec-2"), claims(), rotated);

    auto first = v.verify_detailed(token);
    ASSERT_FALSE(first.claims);
    EXPECT_EQ(first.reason, JwtReason::unknown_kid);
    EXPECT_TRUE(first.refresh_may_help());
    EXPECT_EQ(first.claims.error().public_message(), "invalid token");

    // The wiring the HTTP layer does: gate, fetch, parse, update, verify once more.
    ASSERT_TRUE(jwks_.should_refresh(clock_.now_ms()));
    auto fetched = parse_jwks(test::jwks_json(
        {shared_ec_key().public_jwk("ec-1", "ES256"), rotated.public_jwk("ec-2", "ES256")}));
    ASSERT_TRUE(fetched);
    jwks_.update(std::move(*fetched));
    auto second = v.verify_detailed(token);
    ASSERT_TRUE(second.claims) << second.claims.error().details;
    EXPECT_EQ(second.reason, JwtReason::ok);
    EXPECT_FALSE(second.refresh_may_help());

    // Another unknown kid right after: refresh is refused for 30 s.
    auto third = v.verify_detailed(test::sign_es256(header("ES256", "ec-3"), claims(), rotated));
    EXPECT_TRUE(third.refresh_may_help());
    EXPECT_FALSE(jwks_.should_refresh(clock_.now_ms()));
    clock_.advance_ms(30'000);
    EXPECT_TRUE(jwks_.should_refresh(clock_.now_ms()));
}

TEST_F(JwtVerifierTest, OtherFailuresDoNotAskForARefresh) {
    const auto v = full();
    for (const auto& token : {test::sign_es256(header("ES256", "ec-1"), claims(), other_ec_key()),
                              test::sign_rs256(header("RS256", "ec-1"), claims(), shared_rsa_key()),
                              test::sign_hs256(header("HS256"), claims(-100), kSecret)}) {
        EXPECT_FALSE(v.verify_detailed(token).refresh_may_help());
    }
}

TEST_F(JwtVerifierTest, AsymmetricAlgWithNoKeysOfThatTypeIsUnknownKid) {
    JwksCache only_ec;
    auto set = parse_jwks(test::jwks_json({shared_ec_key().public_jwk("ec-1", "ES256")}));
    ASSERT_TRUE(set);
    only_ec.update(std::move(*set));
    auto v = JwtVerifier::create(JwtConfig{}, &only_ec, clock_);
    ASSERT_TRUE(v);
    const auto r =
        v->verify_detailed(test::sign_rs256(header("RS256"), claims(), shared_rsa_key()));
    EXPECT_EQ(r.reason, JwtReason::unknown_kid);
}

TEST_F(JwtVerifierTest, ChecksTheSignatureBeforeTheClaims) {
    // A forged token must never learn whether its claims would pass.
    const auto v = full();
    expect_refused(v, test::sign_hs256(header("HS256"), claims(-1000), "wrong-secret"),
                   JwtReason::bad_signature);
    auto c = claims();
    c["iss"] = "https://evil";
    expect_refused(v, test::sign_es256(header("ES256", "ec-1"), c, other_ec_key()),
                   JwtReason::bad_signature);
}

TEST_F(JwtVerifierTest, CreateRefusesUnusableConfigs) {
    EXPECT_FALSE(JwtVerifier::create(JwtConfig{}, nullptr, clock_));
    auto short_secret = JwtVerifier::create(config("too-short"), nullptr, clock_);
    ASSERT_FALSE(short_secret);
    EXPECT_EQ(short_secret.error().message.find("too-short"), std::string::npos);
    JwtConfig bad_leeway = config(kSecret);
    bad_leeway.leeway_s = -1;
    EXPECT_FALSE(JwtVerifier::create(bad_leeway, nullptr, clock_));
    EXPECT_TRUE(JwtVerifier::create(config(kSecret), nullptr, clock_));
    EXPECT_TRUE(JwtVerifier::create(JwtConfig{}, &jwks_, clock_));
}

TEST_F(JwtVerifierTest, VerifiesConcurrentlyWhileKeysRotate) {
    const auto v = full();
    const auto es = test::sign_es256(header("ES256", "ec-1"), claims(), shared_ec_key());
    const auto rs = test::sign_rs256(header("RS256", "rsa-1"), claims(), shared_rsa_key());
    const auto hs = test::sign_hs256(header("HS256"), claims(), kSecret);
    const auto jwks_text = test::jwks_json({shared_rsa_key().public_jwk("rsa-1", "RS256"),
                                            shared_ec_key().public_jwk("ec-1", "ES256")});
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                for (const auto* token : {&es, &rs, &hs}) {
                    if (!v.verify(*token)) {
                        ++failures;
                    }
                }
            }
        });
    }
    for (int i = 0; i < 50; ++i) {
        auto set = parse_jwks(jwks_text);
        ASSERT_TRUE(set);
        jwks_.update(std::move(*set));
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace voicegate::auth
