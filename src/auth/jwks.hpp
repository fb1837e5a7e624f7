#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "core/error.hpp"

namespace voicegate::auth {

/// Largest JWKS document accepted, in bytes.
inline constexpr std::size_t kMaxJwksBytes = std::size_t{256} * 1024;
/// Most keys kept from one JWKS document; further keys are skipped.
inline constexpr std::size_t kMaxJwksKeys = 64;
/// Smallest and largest RSA modulus accepted, in bits.
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;

/// The key families voicegate verifies with.
enum class KeyKind {
    rsa,      // RS256
    ec_p256,  // ES256 (NIST P-256 only)
};

/// One usable public key from a JWKS. The EVP_PKEY is immutable and shared; OpenSSL allows
/// concurrent read-only use from several threads.
struct Jwk {
    std::string kid;  // empty if the JWK has none
    std::string alg;  // empty if the JWK does not pin one
    KeyKind kind = KeyKind::rsa;
    std::shared_ptr<EVP_PKEY> key;

    /// True if this key may verify a token whose header says `alg`: RS256 needs an RSA key,
    /// ES256 a P-256 key, and a pinned `alg` must match. Never true for HS*. Pure.
    bool accepts(std::string_view token_alg) const;
};

/// A parsed key set: the usable keys, and one line per skipped key saying why (for the log).
/// Immutable once built; share it through `std::shared_ptr<const KeySet>`.
struct KeySet {
    std::vector<Jwk> keys;
    std::vector<std::string> skipped;

    /// True if at least one key can verify `alg`. Pure.
    bool supports(std::string_view alg) const;
    /// True if some key has this `kid`. Pure.
    bool has_kid(std::string_view kid) const;
};

/// Parses a JWKS document (RFC 7517: `{"keys":[...]}`). RSA keys (`n`, `e`, at least 2048
/// bits) and EC P-256 keys (`crv`, `x`, `y`, point validated) become EVP_PKEYs built with
/// OSSL_PARAM / EVP_PKEY_fromdata. Keys that cannot serve RS256/ES256 signature verification
/// (private parts present, `oct`, other curves, `use` other than `sig`, `key_ops` without
/// `verify`, a pinned `alg` other than RS256/ES256, bad parameters) are skipped with a reason.
/// Fails only if the document itself is unusable (too large, not JSON, no `keys` array). An
/// empty result is valid: a Supabase project still on the legacy HS256 secret publishes
/// `{"keys":[]}`. Pure; thread-safe.
[[nodiscard]] Result<KeySet> parse_jwks(std::string_view json);

/// Builds an RSA public key from big-endian modulus and exponent bytes (JWK `n`/`e` decoded).
/// Pure; thread-safe.
[[nodiscard]] Result<std::shared_ptr<EVP_PKEY>> rsa_public_key(std::string_view n,
                                                               std::string_view e);

/// Builds a P-256 public key from 32-byte big-endian affine coordinates (JWK `x`/`y` decoded);
/// refuses points not on the curve. Pure; thread-safe.
[[nodiscard]] Result<std::shared_ptr<EVP_PKEY>> ec_p256_public_key(std::string_view x,
                                                                   std::string_view y);

/// Holds the current key set for the verifier, and decides when a refetch is worth it.
///
/// The HTTP fetch of `JWT_JWKS_URL` lives outside (it needs Asio). The hook is:
///   1. at start: `parse_jwks(body)` then `update(...)` (a failure there is a startup error);
///   2. when `JwtVerifier::verify_detailed` says `refresh_may_help()`, call
///      `should_refresh(clock.now_ms())`; only if it says yes, fetch, `parse_jwks`, `update`,
///      and verify the token once more. It says yes at most once per `min_interval_ms`
///      (30 s), whoever asks, so forged `kid`s cannot make us hammer the issuer.
/// Thread safety: every member is safe to call concurrently. Readers take a snapshot
/// (a shared_ptr copy under a short lock) and keep using it while `update` swaps in a new set.
class JwksCache {
public:
    /// Starts with an empty key set. `min_interval_ms`: the least time between two refreshes.
    explicit JwksCache(std::int64_t min_interval_ms = 30'000);

    /// The current key set; never null. Thread-safe.
    std::shared_ptr<const KeySet> snapshot() const;

    /// Replaces the key set. Thread-safe; readers holding the old snapshot are unaffected.
    void update(KeySet keys);

    /// Claims the right to refresh now: true if no refresh was claimed in the last
    /// `min_interval_ms` before `now_ms` (the first call is always true), and then starts a
    /// new interval. Thread-safe: concurrent callers in one interval get exactly one true.
    bool should_refresh(std::int64_t now_ms);

    /// Number of `update` calls so far (for metrics and tests). Thread-safe.
    std::uint64_t generation() const;

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const KeySet> keys_;
    std::int64_t min_interval_ms_;
    std::int64_t last_refresh_ms_ = 0;
    bool refreshed_ = false;
    std::uint64_t generation_ = 0;
};

}  // namespace voicegate::auth
