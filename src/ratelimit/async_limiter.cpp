#include "ratelimit/async_limiter.hpp"

namespace voicegate::ratelimit {

Result<std::vector<Decision>> check_in_order(Limiter& limiter,
                                             const std::vector<LimitCheck>& checks) {
    std::vector<Decision> out;
    out.reserve(checks.size());
    for (const auto& c : checks) {
        auto d = limiter.check(c.key, c.rate);
        if (!d) {
            return d.error();
        }
        out.push_back(*d);
        if (!d->allowed) {
            break;
        }
    }
    return out;
}

boost::asio::awaitable<Result<std::vector<Decision>>> SyncLimiterAdapter::check(
    std::vector<LimitCheck> checks) {
    co_return check_in_order(inner_, checks);
}

}  // namespace voicegate::ratelimit
