// A JWKS document (JWT_JWKS_URL's body or JWT_JWKS_FILE), as the service reads it at start-up
// and on refresh: parse_jwks, then the key set's lookups the verifier makes.
#include <cstdint>

#include "auth/jwks.hpp"
#include "targets/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace voicegate;
    auto keys = auth::parse_jwks(fuzz::as_text(data, size));
    if (!keys) {
        return 0;
    }
    for (const char* alg : {"RS256", "ES256", "HS256", "none"}) {
        (void)keys->supports(alg);
        for (const auto& k : keys->keys) {
            (void)k.accepts(alg);
            (void)keys->has_kid(k.kid);
        }
    }
    auth::JwksCache cache;
    cache.update(std::move(*keys));
    return 0;
}
