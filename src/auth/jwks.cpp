#include "auth/jwks.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "auth/jwt.hpp"

namespace voicegate::auth {
namespace {

struct BnFree {
    void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

Failure key_error(std::string message) {
    return fail(Error::bad_request, std::move(message));
}

BnPtr to_bn(std::string_view bytes) {
    return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                           static_cast<int>(bytes.size()), nullptr));
}

std::string_view strip_leading_zeros(std::string_view s) {
    while (!s.empty() && s.front() == '\0') {
        s.remove_prefix(1);
    }
    return s;
}

// Bits in a big-endian unsigned number without leading zero bytes.
int bit_length(std::string_view be) {
    unsigned top = static_cast<unsigned char>(be.front());
    int bits = 0;
    while (top != 0) {
        ++bits;
        top >>= 1U;
    }
    return static_cast<int>((be.size() - 1) * 8) + bits;
}

// Runs EVP_PKEY_fromdata for a public key of `type` with the parameters in `bld`.
Result<std::shared_ptr<EVP_PKEY>> from_params(const char* type, OSSL_PARAM_BLD* bld) {
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
    if (!params) {
        return key_error("out of memory building key parameters");
    }
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
        return key_error(std::string("OpenSSL cannot import ") + type + " keys");
    }
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 ||
        raw == nullptr) {
        return key_error(std::string("invalid ") + type + " public key parameters");
    }
    return std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);
}

// Decodes a required base64url string member of a JWK.
Result<std::string> b64_member(const boost::json::object& jwk, std::string_view name) {
    const auto* v = jwk.if_contains(name);
    if (v == nullptr || !v->is_string()) {
        return key_error(std::string("missing string '") + std::string(name) + "'");
    }
    auto bytes = base64url_decode(v->get_string());
    if (!bytes || bytes->empty()) {
        return key_error(std::string("'") + std::string(name) + "' is not base64url");
    }
    return std::move(*bytes);
}

// Turns one JWK object into a usable key, or says why not.
Result<Jwk> parse_key(const boost::json::object& o) {
    Jwk out;
    const auto* kty = o.if_contains("kty");
    if (kty == nullptr || !kty->is_string()) {
        return key_error("missing string 'kty'");
    }
    if (const auto* use = o.if_contains("use"); use != nullptr) {
        if (!use->is_string() || use->get_string() != "sig") {
            return key_error("'use' is not \"sig\"");
        }
    }
    if (const auto* ops = o.if_contains("key_ops"); ops != nullptr) {
        bool verify = false;
        if (ops->is_array()) {
            for (const auto& op : ops->get_array()) {
                verify = verify || (op.is_string() && op.get_string() == "verify");
            }
        }
        if (!verify) {
            return key_error("'key_ops' does not allow \"verify\"");
        }
    }
    if (const auto* alg = o.if_contains("alg"); alg != nullptr) {
        if (!alg->is_string()) {
            return key_error("'alg' is not a string");
        }
        out.alg = std::string(alg->get_string());
    }
    const auto type = kty->get_string();
    if (type == "oct") {
        return key_error("symmetric keys are never taken from a JWKS (HS256 uses JWT_SECRET)");
    }
    // Private material in a public key set is a leak or a mistake: refuse the key loudly.
    for (const char* priv : {"d", "p", "q", "dp", "dq", "qi"}) {
        if (o.contains(priv)) {
            return key_error(std::string("contains private parameter '") + priv +
                             "'; publish public keys only");
        }
    }

    if (type == "RSA") {
        if (!out.alg.empty() && out.alg != "RS256") {
            return key_error("RSA key with alg '" + sanitize_for_details(out.alg) +
                             "' (only RS256 is supported)");
        }
        auto n = b64_member(o, "n");
        if (!n) {
            return n.error();
        }
        auto e = b64_member(o, "e");
        if (!e) {
            return e.error();
        }
        auto key = rsa_public_key(*n, *e);
        if (!key) {
            return key.error();
        }
        out.kind = KeyKind::rsa;
        out.key = std::move(*key);
        return out;
    }
    if (type == "EC") {
        const auto* crv = o.if_contains("crv");
        if (crv == nullptr || !crv->is_string()) {
            return key_error("missing string 'crv'");
        }
        if (crv->get_string() != "P-256") {
            return key_error("curve '" + sanitize_for_details(crv->get_string()) +
                             "' is not supported (only P-256 for ES256)");
        }
        if (!out.alg.empty() && out.alg != "ES256") {
            return key_error("P-256 key with alg '" + sanitize_for_details(out.alg) +
                             "' (only ES256 is supported)");
        }
        auto x = b64_member(o, "x");
        if (!x) {
            return x.error();
        }
        auto y = b64_member(o, "y");
        if (!y) {
            return y.error();
        }
        auto key = ec_p256_public_key(*x, *y);
        if (!key) {
            return key.error();
        }
        out.kind = KeyKind::ec_p256;
        out.key = std::move(*key);
        return out;
    }
    return key_error("key type '" + sanitize_for_details(type) + "' is not supported");
}

}  // namespace

bool Jwk::accepts(std::string_view token_alg) const {
    if (!alg.empty() && alg != token_alg) {
        return false;
    }
    switch (kind) {
        case KeyKind::rsa:
            return token_alg == "RS256";
        case KeyKind::ec_p256:
            return token_alg == "ES256";
    }
    return false;
}

bool KeySet::supports(std::string_view alg) const {
    for (const auto& k : keys) {
        if (k.accepts(alg)) {
            return true;
        }
    }
    return false;
}

bool KeySet::has_kid(std::string_view kid) const {
    for (const auto& k : keys) {
        if (k.kid == kid) {
            return true;
        }
    }
    return false;
}

Result<std::shared_ptr<EVP_PKEY>> rsa_public_key(std::string_view n, std::string_view e) {
    n = strip_leading_zeros(n);
    e = strip_leading_zeros(e);
    if (n.empty() || e.empty()) {
        return key_error("RSA modulus or exponent is zero");
    }
    const int bits = bit_length(n);
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return key_error("RSA modulus of " + std::to_string(bits) + " bits (need " +
                         std::to_string(kMinRsaBits) + ".." + std::to_string(kMaxRsaBits) + ")");
    }
    if ((static_cast<unsigned char>(n.back()) & 1U) == 0) {
        return key_error("RSA modulus is even");
    }
    if (e.size() > 8 || (static_cast<unsigned char>(e.back()) & 1U) == 0 ||
        (e.size() == 1 && static_cast<unsigned char>(e.front()) < 3)) {
        return key_error("RSA exponent must be odd, at least 3 and at most 64 bits");
    }
    BnPtr bn_n = to_bn(n);
    BnPtr bn_e = to_bn(e);
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
        return key_error("out of memory building an RSA key");
    }
    return from_params("RSA", bld.get());
}

Result<std::shared_ptr<EVP_PKEY>> ec_p256_public_key(std::string_view x, std::string_view y) {
    // RFC 7518 §6.2.1.2: coordinates are the full 32 bytes for P-256, no more, no less.
    if (x.size() != 32 || y.size() != 32) {
        return key_error("P-256 coordinates must be 32 bytes each");
    }
    std::string point;
    point.reserve(65);
    point.push_back('\x04');  // uncompressed SEC1 point
    point.append(x);
    point.append(y);
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
        return key_error("out of memory building an EC key");
    }
    auto key = from_params("EC", bld.get());
    if (!key) {
        return key_error("P-256 point is not on the curve");
    }
    // Belt and braces: the import already decodes the point; this also rejects infinity.
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        return key_error("P-256 point is not on the curve");
    }
    return key;
}

Result<KeySet> parse_jwks(std::string_view json) {
    if (json.size() > kMaxJwksBytes) {
        return fail(Error::bad_request, "JWKS document is larger than " +
                                            std::to_string(kMaxJwksBytes / 1024) + " KiB");
    }
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(json, ec);
    if (ec) {
        return fail(Error::bad_request, "JWKS document is not valid JSON");
    }
    const auto* keys = doc.is_object() ? doc.get_object().if_contains("keys") : nullptr;
    if (keys == nullptr || !keys->is_array()) {
        return fail(Error::bad_request, "JWKS document has no \"keys\" array");
    }
    KeySet out;
    std::size_t index = 0;
    for (const auto& entry : keys->get_array()) {
        std::string label = "key #" + std::to_string(index++);
        if (!entry.is_object()) {
            out.skipped.push_back(label + ": not a JSON object");
            continue;
        }
        const auto& o = entry.get_object();
        std::string kid;
        if (const auto* k = o.if_contains("kid"); k != nullptr) {
            if (!k->is_string()) {
                out.skipped.push_back(label + ": 'kid' is not a string");
                continue;
            }
            kid = std::string(k->get_string());
            label += " (kid '" + sanitize_for_details(kid) + "')";
        }
        if (out.keys.size() >= kMaxJwksKeys) {
            out.skipped.push_back(label + ": more than " + std::to_string(kMaxJwksKeys) + " keys");
            continue;
        }
        auto key = parse_key(o);
        if (!key) {
            out.skipped.push_back(label + ": " + key.error().message);
            continue;
        }
        key->kid = std::move(kid);
        out.keys.push_back(std::move(*key));
    }
    return out;
}

JwksCache::JwksCache(std::int64_t min_interval_ms)
    : keys_(std::make_shared<const KeySet>()), min_interval_ms_(min_interval_ms) {}

std::shared_ptr<const KeySet> JwksCache::snapshot() const {
    const std::lock_guard lock(mutex_);
    return keys_;
}

void JwksCache::update(KeySet keys) {
    auto next = std::make_shared<const KeySet>(std::move(keys));
    std::shared_ptr<const KeySet> previous;  // released outside the lock
    const std::lock_guard lock(mutex_);
    previous = std::move(keys_);
    keys_ = std::move(next);
    ++generation_;
}

bool JwksCache::should_refresh(std::int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    // A clock that went backwards counts as "long ago", so a refresh is never blocked for good.
    if (refreshed_ && now_ms >= last_refresh_ms_ && now_ms - last_refresh_ms_ < min_interval_ms_) {
        return false;
    }
    refreshed_ = true;
    last_refresh_ms_ = now_ms;
    return true;
}

std::uint64_t JwksCache::generation() const {
    const std::lock_guard lock(mutex_);
    return generation_;
}

}  // namespace voicegate::auth
