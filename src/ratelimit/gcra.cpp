#include "ratelimit/gcra.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace voicegate::ratelimit {
namespace {


Failure bad_rate(std::string_view text, std::string_view why) {
    std::string shown;
    for (char c : text.substr(0, 40)) {
        shown.push_back(c >= 0x20 && c < 0x7F ? c : '?');
    }
    return fail(Error::bad_request, "rate '" + shown + "': " + std::string(why) +
                                        " (expected N/s, N/min or N/h, e.g. 10/min)");
}

}  // namespace

std::int64_t Rate::emission_interval_us() const {
    if (count <= 0) {
        return period_ms * 1000;
    }
    return std::max<std::int64_t>(1, period_ms * 1000 / count);
}

std::int64_t Rate::window_s() const {
    return std::max<std::int64_t>(1, (period_ms + 999) / 1000);
}

std::string Rate::to_string() const {
    switch (period_ms) {
        case 1000:
            return std::to_string(count) + "/s";
        case 60'000:
            return std::to_string(count) + "/min";
        case 3'600'000:
            return std::to_string(count) + "/h";
        default:
            return std::to_string(count) + "/" + std::to_string(period_ms) + "ms";
    }
}

Result<Rate> parse_rate(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        return bad_rate(text, "missing '/'");
    }
    const auto number = trim_view(text.substr(0, slash));
    const auto unit = trim_view(text.substr(slash + 1));
    if (number.empty()) {
        return bad_rate(text, "missing count before '/'");
    }
    std::int64_t count = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), count);
    if (ec == std::errc::result_out_of_range) {
        return bad_rate(text, "count is too large");
    }
    if (ec != std::errc() || end != number.data() + number.size()) {
        return bad_rate(text, "count is not a whole number");
    }
    if (count < 1 || count > kMaxRateCount) {
        return bad_rate(text, "count must be 1.." + std::to_string(kMaxRateCount));
    }
    static constexpr std::array<std::pair<std::string_view, std::int64_t>, 9> kUnits{{
        {"s", 1000},
        {"sec", 1000},
        {"second", 1000},
        {"m", 60'000},
        {"min", 60'000},
        {"minute", 60'000},
        {"h", 3'600'000},
        {"hr", 3'600'000},
        {"hour", 3'600'000},
    }};
    for (const auto& [name, ms] : kUnits) {
        if (iequals(unit, name)) {
            return Rate{count, ms, count};
        }
    }
    return bad_rate(text, unit.empty() ? "missing unit after '/'" : "unknown unit");
}

GcraDecision decide(std::int64_t tat_us, std::int64_t now_us, const Rate& rate) {
    if (rate.count <= 0 || rate.period_ms <= 0) {
        // Not a rate parse_rate would produce: fail closed rather than divide by zero.
        GcraDecision refused;
        refused.new_tat_us = tat_us;
        refused.retry_after_us = 1'000'000;
        refused.reset_after_us = 1'000'000;
        return refused;
    }
    const std::int64_t t = rate.emission_interval_us();
    const std::int64_t tau = t * rate.effective_burst();
    const std::int64_t tat = std::max(tat_us, now_us);
    const std::int64_t new_tat = tat + t;
    const std::int64_t allow_at = new_tat - tau;

    GcraDecision d;
    if (now_us < allow_at) {
        d.allowed = false;
        d.new_tat_us = tat;
        d.remaining = 0;
        d.retry_after_us = allow_at - now_us;
        d.reset_after_us = tat - now_us;
        return d;
    }
    d.allowed = true;
    d.new_tat_us = new_tat;
    d.remaining = (tau - (new_tat - now_us)) / t;
    // When this was the last one, the next passes once one emission interval has drained.
    d.retry_after_us = d.remaining > 0 ? 0 : new_tat + t - tau - now_us;
    d.reset_after_us = new_tat - now_us;
    return d;
}

}  // namespace voicegate::ratelimit
