#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <openssl/types.h>

namespace voicegate::test {

/// A key pair generated with OpenSSL at test time (no key files in the repository).
/// Copyable handle; the EVP_PKEY is shared.
class TestKey {
public:
    /// A fresh RSA key of `bits` bits (e = 65537).
    static TestKey rsa(int bits = 2048);
    /// A fresh EC key on `curve` ("P-256", "P-384", ...).
    static TestKey ec(const char* curve = "P-256");

    EVP_PKEY* get() const { return key_.get(); }
    bool is_rsa() const;

    /// The public key as PEM text (SubjectPublicKeyInfo, "-----BEGIN PUBLIC KEY-----").
    std::string public_pem() const;
    /// The public key as DER bytes (SubjectPublicKeyInfo).
    std::string public_der() const;
    /// The public key as a JWK object; `alg` and `use` are added when non-empty.
    boost::json::object public_jwk(std::string_view kid, std::string_view alg = {},
                                   std::string_view use = "sig") const;

private:
    explicit TestKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
    std::shared_ptr<EVP_PKEY> key_;
};

/// One key of each kind for the whole test process, made on first use (RSA key generation is
/// slow); for tests that need "a" key, not a key of their own.
const TestKey& shared_rsa_key();
const TestKey& shared_ec_key();  // P-256
const TestKey& shared_p384_key();

/// `{"keys":[...]}` as JSON text.
std::string jwks_json(const std::vector<boost::json::object>& keys);

/// HMAC-SHA256 of `data` under `key` (raw 32 bytes).
std::string hmac_sha256(std::string_view key, std::string_view data);
/// RSASSA-PKCS1-v1_5 SHA-256 signature.
std::string rsa_sha256(const TestKey& key, std::string_view data);
/// ECDSA SHA-256 signature as JWS raw r||s, each padded to the curve's coordinate size.
std::string ecdsa_sha256_raw(const TestKey& key, std::string_view data);
/// ECDSA SHA-256 signature in DER (what JWS must NOT carry).
std::string ecdsa_sha256_der(const TestKey& key, std::string_view data);

/// `b64(header).b64(claims)`: the JWS signing input of two JSON objects.
std::string signing_input(const boost::json::object& header, const boost::json::object& claims);
/// Joins raw segment texts into a compact token: b64(header).b64(claims).b64(signature).
/// Use it to build malformed tokens (non-JSON header, arrays, ...).
std::string compact(std::string_view header_text, std::string_view claims_text,
                    std::string_view signature);

/// A signed token; the header is used as given (set `alg` yourself to lie about it).
std::string sign_hs256(const boost::json::object& header, const boost::json::object& claims,
                       std::string_view secret);
std::string sign_rs256(const boost::json::object& header, const boost::json::object& claims,
                       const TestKey& key);
std::string sign_es256(const boost::json::object& header, const boost::json::object& claims,
                       const TestKey& key);

}  // namespace voicegate::test
