#include "auth/jwt_verifier.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include <boost/json/value.hpp>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

namespace voicegate::auth {
namespace {

// Claims further than this from the epoch are clamped, so arithmetic in ms never overflows.
constexpr std::int64_t kMaxDateSeconds = 1'000'000'000'000'000;  // ~31 million years
// A token is tried against at most this many keys of its `alg` (kid-less tokens try them all).
constexpr std::size_t kMaxCandidateKeys = 8;
constexpr std::size_t kSha256Bytes = 32;
constexpr std::size_t kEs256CoordBytes = 32;

struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct MacCtxFree {
    void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};
struct EcdsaSigFree {
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

std::string_view public_message(JwtReason reason) {
    switch (reason) {
        case JwtReason::missing:
            return "missing bearer token";
        case JwtReason::expired:
            return "token expired";
        case JwtReason::not_yet_valid:
        case JwtReason::issued_in_future:
            return "token not yet valid";
        default:
            return "invalid token";
    }
}

Verification refuse(JwtReason reason, const std::string& detail) {
    Verification v{fail(Error::unauthorized, std::string(public_message(reason)),
                        std::string(to_string(reason)) + ": " + detail),
                   reason};
    return v;
}

Verification refuse(const JwtError& e) {
    return refuse(e.reason, e.detail);
}

// A NumericDate claim (RFC 7519 §2) in milliseconds since the epoch, saturating; nullopt if
// the claim is absent.
JwtResult<std::optional<std::int64_t>> numeric_date_ms(const boost::json::object& claims,
                                                       std::string_view name) {
    const auto* v = claims.if_contains(name);
    if (v == nullptr) {
        return std::optional<std::int64_t>{};
    }
    if (v->is_int64()) {
        const auto s = std::clamp<std::int64_t>(v->get_int64(), -kMaxDateSeconds, kMaxDateSeconds);
        return std::optional<std::int64_t>{s * 1000};
    }
    if (v->is_uint64()) {
        return std::optional<std::int64_t>{kMaxDateSeconds * 1000};
    }
    if (v->is_double() && std::isfinite(v->get_double())) {
        const double s = std::clamp(v->get_double(), static_cast<double>(-kMaxDateSeconds),
                                    static_cast<double>(kMaxDateSeconds));
        return std::optional<std::int64_t>{static_cast<std::int64_t>(std::floor(s * 1000.0))};
    }
    return JwtError{JwtReason::malformed, "claim '" + std::string(name) + "' is not a number"};
}

std::string seconds_text(std::int64_t ms) {
    return std::to_string(ms / 1000);
}

bool digest_verify(EVP_PKEY* key, const EVP_MD* md, std::string_view sig, std::string_view data) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) {
        return false;
    }
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(data.data()),
                            data.size()) == 1;
}

// JWS carries ECDSA signatures as fixed-width r||s (RFC 7518 §3.4); EVP wants DER.
std::optional<std::string> es256_raw_to_der(std::string_view raw) {
    if (raw.size() != 2 * kEs256CoordBytes) {
        return std::nullopt;
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(bytes, kEs256CoordBytes, nullptr);
    BIGNUM* s = BN_bin2bn(bytes + kEs256CoordBytes, kEs256CoordBytes, nullptr);
    if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return std::nullopt;
    }
    const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0) {
        return std::nullopt;
    }
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(sig.get(), &out) != len) {
        return std::nullopt;
    }
    return der;
}

// The stages of JwtVerifier::verify_detailed; each answers the refusal, or nullopt to go on.
using Refusal = std::optional<Verification>;

// 1a. An HS256 signature: an HMAC of the configured secret, compared in constant time.
Refusal check_hs256(const ParsedJwt& jwt, EVP_MAC* hmac, const std::string& key) {
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(hmac));
    std::array<char, sizeof("SHA256")> digest_name{"SHA256"};
    const std::array<OSSL_PARAM, 2> params{
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name.data(), 0),
        OSSL_PARAM_construct_end()};
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    std::size_t mac_len = 0;
    if (!ctx ||
        EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params.data()) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
                       jwt.signing_input.size()) != 1 ||
        EVP_MAC_final(ctx.get(), mac.data(), &mac_len, mac.size()) != 1 ||
        mac_len != kSha256Bytes) {
        return refuse(JwtReason::bad_signature, "HMAC computation failed");
    }
    if (jwt.signature.size() != kSha256Bytes ||
        CRYPTO_memcmp(mac.data(), jwt.signature.data(), kSha256Bytes) != 0) {
        return refuse(JwtReason::bad_signature, "HS256 signature does not match");
    }
    return std::nullopt;
}

// The keys of `keys` that may verify `jwt` (its kid, its alg); a refusal when there are none:
// an unknown kid is worth a JWKS refresh whatever the signature.
Refusal pick_keys(const ParsedJwt& jwt, const KeySet& keys, std::vector<const Jwk*>& candidates) {
    const std::string& alg = jwt.header.alg;
    const std::string& kid = jwt.header.kid;
    bool kid_known = false;
    for (const auto& k : keys.keys) {
        if (!kid.empty() && k.kid != kid) {
            continue;
        }
        kid_known = true;
        if (k.accepts(alg) && candidates.size() < kMaxCandidateKeys) {
            candidates.push_back(&k);
        }
    }
    if (!candidates.empty()) {
        return std::nullopt;
    }
    if (!kid.empty() && !kid_known) {
        return refuse(JwtReason::unknown_kid,
                      "no key with kid '" + sanitize_for_details(kid) + "'");
    }
    if (kid.empty()) {
        return refuse(JwtReason::unknown_kid, "no key can verify " + alg);
    }
    return refuse(JwtReason::key_mismatch,
                  "key '" + sanitize_for_details(kid) + "' cannot verify " + alg);
}

// 1b. An RS256 / ES256 signature under a key of the key set, picked before anything else.
Refusal check_keyset_signature(const ParsedJwt& jwt, const JwksCache& jwks, const EVP_MD* sha256) {
    const std::string& alg = jwt.header.alg;
    const auto keys = jwks.snapshot();
    std::vector<const Jwk*> candidates;
    if (auto refused = pick_keys(jwt, *keys, candidates)) {
        return refused;
    }
    std::optional<std::string> der;
    if (alg == "ES256") {
        der = es256_raw_to_der(jwt.signature);
        if (!der) {
            return refuse(JwtReason::bad_signature, "ES256 signature is not 64 bytes r||s");
        }
    }
    const std::string_view sig = der ? std::string_view(*der) : jwt.signature;
    for (const Jwk* k : candidates) {
        if (digest_verify(k->key.get(), sha256, sig, jwt.signing_input)) {
            return std::nullopt;
        }
    }
    return refuse(JwtReason::bad_signature, alg + " signature does not verify");
}

// 2. The time window: `exp` required, `exp` / `nbf` / `iat` checked with the leeway. Sets
// out.exp.
Refusal check_time_window(const boost::json::object& claims, std::int64_t now, std::int64_t leeway,
                          Claims& out) {
    auto exp = numeric_date_ms(claims, "exp");
    if (!exp) {
        return refuse(exp.error());
    }
    if (!*exp) {
        return refuse(JwtReason::malformed, "claim 'exp' is required");
    }
    if (now >= **exp + leeway) {
        return refuse(JwtReason::expired, "exp " + seconds_text(**exp) + " is before now " +
                                              seconds_text(now) + " minus leeway");
    }
    auto nbf = numeric_date_ms(claims, "nbf");
    if (!nbf) {
        return refuse(nbf.error());
    }
    if (*nbf && now + leeway < **nbf) {
        return refuse(JwtReason::not_yet_valid, "nbf " + seconds_text(**nbf) + " is after now " +
                                                    seconds_text(now) + " plus leeway");
    }
    auto iat = numeric_date_ms(claims, "iat");
    if (!iat) {
        return refuse(iat.error());
    }
    if (*iat && now + leeway < **iat) {
        return refuse(JwtReason::issued_in_future, "iat " + seconds_text(**iat) + " is after now " +
                                                       seconds_text(now) + " plus leeway");
    }
    out.exp = **exp / 1000;
    return std::nullopt;
}

// `aud` as a list (a string becomes one element) into out.aud.
Refusal read_audiences(const boost::json::object& claims, Claims& out) {
    const auto* aud = claims.if_contains("aud");
    if (aud == nullptr) {
        return std::nullopt;
    }
    if (aud->is_string()) {
        out.aud.emplace_back(aud->get_string());
        return std::nullopt;
    }
    if (!aud->is_array()) {
        return refuse(JwtReason::malformed, "claim 'aud' is neither a string nor an array");
    }
    for (const auto& a : aud->get_array()) {
        if (!a.is_string()) {
            return refuse(JwtReason::malformed, "claim 'aud' has a non-string member");
        }
        out.aud.emplace_back(a.get_string());
    }
    return std::nullopt;
}

// 3. Issuer and audience, checked when configured. Sets out.iss and out.aud.
Refusal check_issuer_audience(const boost::json::object& claims, const JwtConfig& config,
                              Claims& out) {
    if (const auto* iss = claims.if_contains("iss"); iss != nullptr) {
        if (!iss->is_string()) {
            return refuse(JwtReason::malformed, "claim 'iss' is not a string");
        }
        out.iss = std::string(iss->get_string());
    }
    if (!config.issuer.empty() && out.iss != config.issuer) {
        return refuse(JwtReason::wrong_issuer, "iss '" + sanitize_for_details(out.iss, 200) +
                                                   "' is not the configured issuer");
    }
    if (auto refused = read_audiences(claims, out)) {
        return refused;
    }
    if (config.audiences.empty()) {
        return std::nullopt;
    }
    bool match = false;
    for (const auto& want : config.audiences) {
        for (const auto& have : out.aud) {
            match = match || have == want;
        }
    }
    if (!match) {
        return refuse(JwtReason::wrong_audience,
                      out.aud.empty() ? std::string("token has no aud")
                                      : "aud does not contain a configured audience");
    }
    return std::nullopt;
}

// 4. Subject (required, bounded) and role. Sets out.sub and out.role.
Refusal check_subject_role(const boost::json::object& claims, Claims& out) {
    const auto* sub = claims.if_contains("sub");
    if (sub == nullptr || !sub->is_string() || sub->get_string().empty()) {
        return refuse(JwtReason::missing_subject, "claim 'sub' must be a non-empty string");
    }
    if (sub->get_string().size() > kMaxSubjectBytes) {
        return refuse(JwtReason::missing_subject,
                      "claim 'sub' is longer than " + std::to_string(kMaxSubjectBytes) + " bytes");
    }
    out.sub = std::string(sub->get_string());
    // A non-string role is treated as no role: it can only ever lower privileges.
    if (const auto* role = claims.if_contains("role"); role != nullptr && role->is_string()) {
        out.role = std::string(role->get_string());
    }
    return std::nullopt;
}

}  // namespace

JwtVerifier::JwtVerifier(JwtConfig config, const JwksCache* jwks, const Clock& clock)
    : config_(std::move(config)), jwks_(jwks), clock_(&clock) {}

Result<JwtVerifier> JwtVerifier::create(JwtConfig config, const JwksCache* jwks,
                                        const Clock& clock) {
    if (config.hs256_secret.empty() && jwks == nullptr) {
        return fail(Error::internal, "JWT authentication needs JWT_SECRET or a JWKS");
    }
    if (!config.hs256_secret.empty() && config.hs256_secret.size() < kMinHs256SecretBytes) {
        return fail(Error::internal, "JWT_SECRET must be at least " +
                                         std::to_string(kMinHs256SecretBytes) + " bytes");
    }
    if (config.leeway_s < 0 || config.leeway_s > 3600) {
        return fail(Error::internal, "JWT leeway must be 0..3600 seconds");
    }
    JwtVerifier v(std::move(config), jwks, clock);
    v.hmac_ = std::shared_ptr<EVP_MAC>(EVP_MAC_fetch(nullptr, "HMAC", nullptr), EVP_MAC_free);
    v.sha256_ = std::shared_ptr<EVP_MD>(EVP_MD_fetch(nullptr, "SHA256", nullptr), EVP_MD_free);
    if (!v.hmac_ || !v.sha256_) {
        return fail(Error::internal, "OpenSSL has no HMAC or SHA-256");
    }
    return v;
}

Result<Claims> JwtVerifier::verify(std::string_view token) const {
    return verify_detailed(token).claims;
}

Verification JwtVerifier::verify_authorization(std::string_view authorization_header) const {
    const auto token = extract_bearer(authorization_header);
    if (!token) {
        return refuse(JwtReason::missing, "no Authorization: Bearer credentials");
    }
    return verify_detailed(*token);
}

Verification JwtVerifier::verify_detailed(std::string_view token) const {
    auto parsed = parse_jwt(token, config_.max_token_bytes);
    if (!parsed) {
        return refuse(parsed.error());
    }
    if (auto refused = check_signature(*parsed)) {
        return std::move(*refused);
    }
    // The signature is good, so the claims are the issuer's.
    const boost::json::object& claims = parsed->claims;
    Claims out;
    if (auto refused = check_time_window(claims, clock_->now_ms(), config_.leeway_s * 1000, out)) {
        return std::move(*refused);
    }
    if (auto refused = check_issuer_audience(claims, config_, out)) {
        return std::move(*refused);
    }
    if (auto refused = check_subject_role(claims, out)) {
        return std::move(*refused);
    }
    out.raw = std::move(parsed->claims);  // `claims` is not used past this point
    return Verification{std::move(out), JwtReason::ok};
}

std::optional<Verification> JwtVerifier::check_signature(const ParsedJwt& jwt) const {
    // The key type is bound to the algorithm.
    const std::string& alg = jwt.header.alg;
    if (alg == "HS256") {
        if (!hs256_enabled()) {
            return refuse(JwtReason::alg_not_allowed, "HS256 is not configured (no JWT_SECRET)");
        }
        return check_hs256(jwt, hmac_.get(), config_.hs256_secret);
    }
    if (alg == "RS256" || alg == "ES256") {
        if (jwks_ == nullptr) {
            return refuse(JwtReason::alg_not_allowed, alg + " is not configured (no JWKS)");
        }
        return check_keyset_signature(jwt, *jwks_, sha256_.get());
    }
    // `none`, HS384, PS256, EdDSA, ...: never configured here.
    return refuse(JwtReason::unsupported_alg,
                  "alg '" + sanitize_for_details(alg) + "' is not accepted");
}

}  // namespace voicegate::auth
