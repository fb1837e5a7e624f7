// JWT parsing and verification (src/auth/jwt.hpp, jwt_verifier.hpp): HS256 with a fixed secret,
// RS256 and ES256 against a fixed key set (keys made at start-up, published as a JWKS document
// and read with parse_jwks, as the service does). verify must refuse, never crash. Input: a
// mode byte, then:
//   mode % 4 == 0: a compact token, verified by two verifiers (HS256 + JWKS with issuer and
//                  audience; JWKS only) and parsed with parse_jwt
//   mode % 4 == 1: an Authorization header value (verify_authorization)
//   mode % 4 == 2: structure-aware: "HEADER\nCLAIMS", two JSON texts that are signed here
//                  ((mode >> 2) % 3: HS256, ES256, RS256) so the claim checks are reached;
//                  an empty HEADER is {"alg":ALG,"kid":KID}
//   mode % 4 == 3: base64url decoding (and the encode round trip), sanitize_for_details
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "auth/jwks.hpp"
#include "auth/jwt.hpp"
#include "auth/jwt_verifier.hpp"
#include "core/clock.hpp"
#include "support/jwt_factory.hpp"
#include "targets/fuzz_input.hpp"

namespace {

using namespace voicegate;

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::int64_t kNowMs = 1'700'000'000'000;  // the seeds' exp/nbf/iat are around it

class FixedClock final : public Clock {
public:
    std::int64_t now_ms() const override { return kNowMs; }
};

struct Fixture {
    FixedClock clock;
    test::TestKey rsa = test::TestKey::rsa(2048);
    test::TestKey ec = test::TestKey::ec("P-256");
    auth::JwksCache jwks;
    std::optional<auth::JwtVerifier> full;       // HS256 + JWKS, issuer and audience checked
    std::optional<auth::JwtVerifier> keys_only;  // JWKS only, no iss/aud

    Fixture() {
        auto set = auth::parse_jwks(
            test::jwks_json({rsa.public_jwk("rsa-1", "RS256"), ec.public_jwk("ec-1", "ES256")}));
        if (!set || set->keys.size() != 2) {
            throw std::runtime_error("fuzz JWKS does not parse");
        }
        jwks.update(std::move(*set));
        auth::JwtConfig cfg;
        cfg.hs256_secret = std::string(kSecret);
        cfg.issuer = "https://issuer.example/auth/v1";
        cfg.audiences = {"authenticated"};
        auto a = auth::JwtVerifier::create(cfg, &jwks, clock);
        auto b = auth::JwtVerifier::create(auth::JwtConfig{}, &jwks, clock);
        if (!a || !b) {
            throw std::runtime_error("fuzz verifiers do not build");
        }
        full.emplace(std::move(*a));
        keys_only.emplace(std::move(*b));
    }
};

const Fixture& fixture() {
    static const Fixture f;
    return f;
}

void verify(std::string_view token) {
    const auto& f = fixture();
    const auto a = f.full->verify_detailed(token);
    const auto b = f.keys_only->verify_detailed(token);
    // A refusal always carries a reason, an acceptance never does.
    if (a.claims.has_value() != (a.reason == auth::JwtReason::ok) ||
        b.claims.has_value() != (b.reason == auth::JwtReason::ok)) {
        std::abort();
    }
    (void)a.refresh_may_help();
    (void)auth::to_string(a.reason);
}

std::string sign(std::uint8_t which, std::string_view header, std::string_view claims) {
    const auto& f = fixture();
    static constexpr std::string_view kAlgs[] = {"HS256", "ES256", "RS256"};
    static constexpr std::string_view kKids[] = {"", "ec-1", "rsa-1"};
    const auto alg = which % 3;
    std::string header_text(header);
    if (header_text.empty()) {
        boost::json::object h{{"alg", kAlgs[alg]}, {"typ", "JWT"}};
        if (!kKids[alg].empty()) {
            h["kid"] = kKids[alg];
        }
        header_text = boost::json::serialize(h);
    }
    const auto input = auth::base64url_encode(header_text) + "." + auth::base64url_encode(claims);
    std::string sig;
    switch (alg) {
        case 0:
            sig = test::hmac_sha256(kSecret, input);
            break;
        case 1:
            sig = test::ecdsa_sha256_raw(f.ec, input);
            break;
        default:
            sig = test::rsa_sha256(f.rsa, input);
            break;
    }
    return input + "." + auth::base64url_encode(sig);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    switch (mode % 4) {
        case 0: {
            verify(text);
            (void)auth::parse_jwt(text);
            break;
        }
        case 1: {
            const auto v = fixture().full->verify_authorization(text);
            (void)v.reason;
            (void)auth::extract_bearer(text);
            break;
        }
        case 2: {
            const auto nl = text.find('\n');
            const auto header =
                nl == std::string_view::npos ? std::string_view() : text.substr(0, nl);
            const auto claims = nl == std::string_view::npos ? text : text.substr(nl + 1);
            verify(sign(static_cast<std::uint8_t>(mode >> 2), header, claims));
            break;
        }
        default: {
            if (const auto decoded = auth::base64url_decode(text)) {
                if (auth::base64url_encode(*decoded) != text) {
                    std::abort();  // canonical input must round-trip
                }
            }
            if (auth::base64url_decode(auth::base64url_encode(text)) != std::string(text)) {
                std::abort();
            }
            (void)auth::sanitize_for_details(text);
            break;
        }
    }
    return 0;
}
