#pragma once

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "auth/token_verifier.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "http/message.hpp"
#include "ratelimit/gcra.hpp"
#include "ratelimit/memory_limiter.hpp"

namespace voicegate::api {

/// The admin identity (SPEC §4, docs/admin-api.md): the admin token (VOICEGATE_ADMIN_TOKEN),
/// compared in constant time, or a JWT whose role is "admin"; with a per-address throttle of
/// failed sign-ins, counted in this process.
/// Thread safety: immutable after construction except the failure counts, which are
/// thread-safe; every method may be called from any event loop.
class AdminAuth {
public:
    /// Failed admin authentications counted per client address (IPv6: per /64): 10 back to
    /// back, then one more every 6 s.
    static constexpr ratelimit::Rate kAdminFailureRate{10, 60'000, 10};

    /// `admin_token` empty: no admin token; `verifier` null: no admin JWT. `verifier` and
    /// `clock` are borrowed.
    AdminAuth(std::string admin_token, const auth::TokenVerifier* verifier, const Clock& clock);

    /// True if some admin identity is configured (else the admin routes answer 404).
    bool enabled() const { return !admin_token_.empty() || verifier_ != nullptr; }

    /// True if the request carries the admin token or an admin JWT; false if it does not, and
    /// then a request that presented some Authorization counts as a failed attempt of its
    /// client address. An address over kAdminFailureRate gets a 429 `rate_limited` Failure
    /// with Retry-After before its credential is even compared.
    boost::asio::awaitable<Result<bool>> is_admin(const http::Request& req) const;

private:
    std::string admin_token_;  // secret
    const auth::TokenVerifier* verifier_;
    std::unique_ptr<ratelimit::MemoryLimiter> failures_;  // thread-safe
};

}  // namespace voicegate::api
