#include "api/admin_auth.hpp"

#include "core/ids.hpp"
#include "net/client_ip.hpp"

namespace voicegate::api {

AdminAuth::AdminAuth(std::string admin_token, const auth::TokenVerifier* verifier,
                     const Clock& clock)
    : admin_token_(std::move(admin_token)),
      verifier_(verifier),
      failures_(std::make_unique<ratelimit::MemoryLimiter>(
          clock, ratelimit::MemoryLimiterOptions{.shards = 4, .max_keys_per_shard = 4096})) {}

boost::asio::awaitable<Result<bool>> AdminAuth::is_admin(const http::Request& req) const {
    const auto header = req.header("authorization").value_or("");
    const std::string key = "admin-fail:" + net::rate_limit_key(req.client_ip);
    // An address that spent its failures is refused before any comparison, the right token
    // included: otherwise 429 vs 200 would still tell a guesser when it hit.
    if (!header.empty()) {
        const auto state = failures_->peek(key, kAdminFailureRate);
        if (!state.allowed) {
            Failure f =
                fail(Error::rate_limited, "Too many failed admin sign-ins; try again later.");
            f.retry_after_s = static_cast<int>(ratelimit::retry_after_seconds(state));
            co_return f;
        }
    }
    bool admin = false;
    if (!admin_token_.empty() && header.size() > 7 &&
        (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer ") &&
        constant_time_equals(header.substr(7), admin_token_)) {
        admin = true;
    } else if (verifier_ != nullptr) {
        auto claims = verifier_->verify_cached(header);
        admin = claims && claims->role == "admin";
    }
    if (!admin && !header.empty()) {
        (void)failures_->check(key, kAdminFailureRate);
    }
    co_return admin;
}

}  // namespace voicegate::api
