#include "api/rate_policy.hpp"

#include <algorithm>
#include <array>

#include "net/client_ip.hpp"
#include "ratelimit/limiter.hpp"

namespace voicegate::api {

namespace {

void add_rendered(std::span<const ratelimit::NamedDecision> named, http::Headers& headers) {
    if (named.empty()) {
        return;
    }
    auto h = ratelimit::render_headers(named);
    headers.emplace_back("RateLimit-Policy", h.policy);
    headers.emplace_back("RateLimit", h.ratelimit);
}

}  // namespace

void RateVerdict::add_headers_to(http::Response& res) const {
    res.headers.insert(res.headers.end(), headers.begin(), headers.end());
}

RateVerdict limiter_unavailable(const Failure& cause) {
    Failure f = fail(Error::store_unavailable, "Rate limiting is unavailable; try again later.",
                     cause.details);
    f.retry_after_s = 1;
    return {f, {}};
}

RateVerdict token_verdict(std::span<const ratelimit::Decision> decided,
                          const RateSettings& settings) {
    static constexpr std::array<std::string_view, 2> kPolicies{"ip", "user"};
    std::vector<ratelimit::NamedDecision> named;
    const ratelimit::Decision* refused = nullptr;
    std::string_view refused_by;
    for (std::size_t i = 0; i < decided.size() && i < kPolicies.size(); ++i) {
        const auto& d = decided[i];
        if (d.limit > 0) {  // limit 0: not enforced (a shared store failing open)
            named.push_back({kPolicies[i], d});
        }
        if (!d.allowed && refused == nullptr) {
            refused = &d;
            refused_by = kPolicies[i];
        }
    }
    RateVerdict verdict;
    // The user's policy first in the headers, as before the limiter went asynchronous.
    std::reverse(named.begin(), named.end());
    add_rendered(named, verdict.headers);
    if (refused != nullptr) {
        const bool by_user = refused_by == "user";
        Failure f = fail(Error::rate_limited,
                         by_user ? "Too many token requests for this user; slow down."
                                 : "Too many token requests from this address; slow down.");
        f.retry_after_s = static_cast<int>(ratelimit::retry_after_seconds(*refused));
        f.details = by_user ? "user limit " + settings.user_label : "ip limit " + settings.ip_label;
        verdict.allowed = f;
    }
    return verdict;
}

RateVerdict route_verdict(const ratelimit::Decision* decided, std::string_view path) {
    RateVerdict verdict;
    if (decided == nullptr) {
        return verdict;
    }
    const auto& d = *decided;
    if (d.limit > 0) {  // limit 0: not enforced (a shared store failing open)
        const std::array<ratelimit::NamedDecision, 1> named{{{"route", d}}};
        add_rendered(named, verdict.headers);
    }
    if (!d.allowed) {
        Failure f = fail(Error::rate_limited, "Too many requests from this address; slow down.");
        f.retry_after_s = static_cast<int>(ratelimit::retry_after_seconds(d));
        f.details = "route limit " + std::string(path);
        verdict.allowed = f;
    }
    return verdict;
}

RatePolicy::RatePolicy(RateSettings settings, ratelimit::AsyncLimiter& limiter,
                       metrics::DecisionMetrics* metrics)
    : settings_(std::move(settings)), limiter_(limiter), metrics_(metrics) {}

void RatePolicy::count(metrics::DecisionMetrics::Check check, const RateVerdict& verdict) const {
    using M = metrics::DecisionMetrics;
    if (metrics_ == nullptr) {
        return;
    }
    if (verdict.allowed) {
        metrics_->limiter(check, M::Outcome::allowed);
    } else if (verdict.allowed.error().code == Error::rate_limited) {
        metrics_->limiter(check, M::Outcome::rate_limited);
    } else {
        metrics_->limiter(check, M::Outcome::limiter_unavailable);
    }
}

boost::asio::awaitable<RateVerdict> RatePolicy::limit_token(std::string user,
                                                            std::string ip) const {
    // IP first: a request refused by the address limit does not also spend the user's allowance.
    std::vector<ratelimit::LimitCheck> checks;
    checks.push_back({"ip:" + net::rate_limit_key(ip), settings_.ip});
    checks.push_back({"user:" + user, settings_.user});
    auto decided = co_await limiter_.check(std::move(checks));
    auto verdict =
        decided ? token_verdict(*decided, settings_) : limiter_unavailable(decided.error());
    count(metrics::DecisionMetrics::Check::token, verdict);
    co_return verdict;
}

const ratelimit::Rate* RatePolicy::route_rate(std::string_view path) const {
    const auto it = std::find_if(settings_.routes.begin(), settings_.routes.end(),
                                 [&](const auto& r) { return r.first == path; });
    return it == settings_.routes.end() ? nullptr : &it->second;
}

boost::asio::awaitable<RateVerdict> RatePolicy::limit_route(std::string path, ratelimit::Rate rate,
                                                            std::string ip) const {
    std::vector<ratelimit::LimitCheck> checks;
    checks.push_back({"route:" + path + ":ip:" + net::rate_limit_key(ip), rate});
    auto decided = co_await limiter_.check(std::move(checks));
    auto verdict = decided ? route_verdict(decided->empty() ? nullptr : &decided->front(), path)
                           : limiter_unavailable(decided.error());
    count(metrics::DecisionMetrics::Check::route, verdict);
    co_return verdict;
}

}  // namespace voicegate::api
