#include "ratelimit/limiter.hpp"

#include <algorithm>

namespace voicegate::ratelimit {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return a <= 0 ? 0 : (a + b - 1) / b;
}

// An sf-string (RFC 8941 §3.3.3): printable ASCII, with '"' and '\' escaped.
std::string sf_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c < 0x20 || c >= 0x7F) {
            continue;
        }
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

}  // namespace

Decision make_decision(const GcraDecision& g, const Rate& rate) {
    Decision d;
    d.allowed = g.allowed;
    d.limit = rate.count;
    d.window_s = rate.window_s();
    d.remaining = g.remaining;
    d.retry_after_ms = ceil_div(g.retry_after_us, 1000);
    d.reset_after_ms = ceil_div(g.reset_after_us, 1000);
    return d;
}

std::string rate_limit_policy_item(std::string_view policy, const Decision& d) {
    return sf_string(policy) + ";q=" + std::to_string(d.limit) +
           ";w=" + std::to_string(std::max<std::int64_t>(1, d.window_s));
}

std::string rate_limit_item(std::string_view policy, const Decision& d) {
    const std::int64_t t_ms = d.remaining > 0 ? d.reset_after_ms : d.retry_after_ms;
    return sf_string(policy) + ";r=" + std::to_string(std::max<std::int64_t>(0, d.remaining)) +
           ";t=" + std::to_string(ceil_div(t_ms, 1000));
}

std::int64_t retry_after_seconds(const Decision& d) {
    return std::max<std::int64_t>(1, ceil_div(d.retry_after_ms, 1000));
}

RateLimitHeaders render_headers(std::span<const NamedDecision> checks) {
    RateLimitHeaders h;
    for (const auto& c : checks) {
        if (!h.policy.empty()) {
            h.policy += ", ";
            h.ratelimit += ", ";
        }
        h.policy += rate_limit_policy_item(c.policy, c.decision);
        h.ratelimit += rate_limit_item(c.policy, c.decision);
        if (!c.decision.allowed) {
            h.retry_after_s = std::max(h.retry_after_s, retry_after_seconds(c.decision));
        }
    }
    return h;
}

}  // namespace voicegate::ratelimit
