#include "support/jwt_factory.hpp"

#include <array>
#include <stdexcept>

#include <boost/json/serialize.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/jwt.hpp"

namespace voicegate::test {
namespace {

// Test helpers may throw: a failure here is a broken test environment, not a code path.
void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string("jwt_factory: ") + what);
    }
}

std::string bn_bytes(const BIGNUM* bn, int pad) {
    const int n = pad > 0 ? pad : BN_num_bytes(bn);
    std::string out(static_cast<std::size_t>(n), '\0');
    check(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n) == n, "bn2binpad");
    return out;
}

std::string get_bn(EVP_PKEY* key, const char* name, int pad) {
    BIGNUM* bn = nullptr;
    check(EVP_PKEY_get_bn_param(key, name, &bn) == 1, name);
    std::string out = bn_bytes(bn, pad);
    BN_free(bn);
    return out;
}

std::string digest_sign(EVP_PKEY* key, std::string_view data) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    check(ctx && EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1,
          "DigestSignInit");
    std::size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    check(EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) == 1, "DigestSign size");
    std::string sig(len, '\0');
    check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                         data.size()) == 1,
          "DigestSign");
    sig.resize(len);
    return sig;
}

int coordinate_bytes(EVP_PKEY* key) {
    return (EVP_PKEY_get_bits(key) + 7) / 8;
}

}  // namespace

TestKey TestKey::rsa(int bits) {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits));
    check(k != nullptr, "RSA keygen");
    return TestKey(std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free));
}

TestKey TestKey::ec(const char* curve) {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
    check(k != nullptr, "EC keygen");
    return TestKey(std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free));
}

const TestKey& shared_rsa_key() {
    static const auto k = TestKey::rsa();
    return k;
}

const TestKey& shared_ec_key() {
    static const auto k = TestKey::ec("P-256");
    return k;
}

const TestKey& shared_p384_key() {
    static const auto k = TestKey::ec("P-384");
    return k;
}

bool TestKey::is_rsa() const {
    return EVP_PKEY_is_a(key_.get(), "RSA") == 1;
}

std::string TestKey::public_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    check(bio && PEM_write_bio_PUBKEY(bio.get(), key_.get()) == 1, "PEM_write_bio_PUBKEY");
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return {data, static_cast<std::size_t>(len)};
}

std::string TestKey::public_der() const {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(key_.get(), &der);
    check(len > 0, "i2d_PUBKEY");
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

boost::json::object TestKey::public_jwk(std::string_view kid, std::string_view alg,
                                        std::string_view use) const {
    boost::json::object jwk;
    if (is_rsa()) {
        jwk["kty"] = "RSA";
        jwk["n"] = auth::base64url_encode(get_bn(key_.get(), OSSL_PKEY_PARAM_RSA_N, 0));
        jwk["e"] = auth::base64url_encode(get_bn(key_.get(), OSSL_PKEY_PARAM_RSA_E, 0));
    } else {
        std::array<char, 64> group{};
        std::size_t len = 0;
        check(EVP_PKEY_get_utf8_string_param(key_.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                             group.size(), &len) == 1,
              "group name");
        const std::string g(group.data(), len);
        jwk["kty"] = "EC";
        jwk["crv"] = g == "prime256v1" ? "P-256" : g == "secp384r1" ? "P-384" : g;
        const int pad = coordinate_bytes(key_.get());
        jwk["x"] = auth::base64url_encode(get_bn(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, pad));
        jwk["y"] = auth::base64url_encode(get_bn(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, pad));
    }
    if (!kid.empty()) {
        jwk["kid"] = kid;
    }
    if (!alg.empty()) {
        jwk["alg"] = alg;
    }
    if (!use.empty()) {
        jwk["use"] = use;
    }
    return jwk;
}

std::string jwks_json(const std::vector<boost::json::object>& keys) {
    boost::json::array arr;
    for (const auto& k : keys) {
        arr.emplace_back(k);
    }
    return boost::json::serialize(boost::json::object{{"keys", std::move(arr)}});
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    std::size_t len = 0;
    check(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                    reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
                    out.size(), &len) != nullptr,
          "HMAC");
    return {reinterpret_cast<const char*>(out.data()), len};
}

std::string rsa_sha256(const TestKey& key, std::string_view data) {
    return digest_sign(key.get(), data);
}

std::string ecdsa_sha256_der(const TestKey& key, std::string_view data) {
    return digest_sign(key.get(), data);
}

std::string ecdsa_sha256_raw(const TestKey& key, std::string_view data) {
    const std::string der = digest_sign(key.get(), data);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    check(sig != nullptr, "d2i_ECDSA_SIG");
    const int pad = coordinate_bytes(key.get());
    std::string out = bn_bytes(ECDSA_SIG_get0_r(sig), pad) + bn_bytes(ECDSA_SIG_get0_s(sig), pad);
    ECDSA_SIG_free(sig);
    return out;
}

std::string signing_input(const boost::json::object& header, const boost::json::object& claims) {
    return auth::base64url_encode(boost::json::serialize(header)) + "." +
           auth::base64url_encode(boost::json::serialize(claims));
}

std::string compact(std::string_view header_text, std::string_view claims_text,
                    std::string_view signature) {
    return auth::base64url_encode(header_text) + "." + auth::base64url_encode(claims_text) + "." +
           auth::base64url_encode(signature);
}

std::string sign_hs256(const boost::json::object& header, const boost::json::object& claims,
                       std::string_view secret) {
    const auto input = signing_input(header, claims);
    return input + "." + auth::base64url_encode(hmac_sha256(secret, input));
}

std::string sign_rs256(const boost::json::object& header, const boost::json::object& claims,
                       const TestKey& key) {
    const auto input = signing_input(header, claims);
    return input + "." + auth::base64url_encode(rsa_sha256(key, input));
}

std::string sign_es256(const boost::json::object& header, const boost::json::object& claims,
                       const TestKey& key) {
    const auto input = signing_input(header, claims);
    return input + "." + auth::base64url_encode(ecdsa_sha256_raw(key, input));
}

}  // namespace voicegate::test
