#include "alerts/detector.hpp"

#include <cmath>
#include <ctime>
#include <functional>

#include <boost/json.hpp>

namespace voicegate::alerts {

namespace {

// Weight of the newest window in a baseline: about the last five windows matter.
constexpr double kAlpha = 0.2;
constexpr std::int64_t kMsPerDay = 86'400'000;

// A baseline after `empty` further windows without events.
double decayed(double baseline, std::int64_t empty) {
    return empty <= 0
               ? baseline
               : baseline *
                     std::pow(1 - kAlpha, static_cast<double>(std::min<std::int64_t>(empty, 1000)));
}

const char* figure_name(const std::string& rule) {
    if (rule == "user_rate") {
        return "requests";
    }
    if (rule == "user_minutes") {
        return "minutes";
    }
    return "denials";
}

}  // namespace

WindowTracker::WindowTracker(std::string rule, const config::AlertRule& rule_config,
                             std::int64_t window_ms, const Clock& clock)
    : rule_(std::move(rule)), config_(rule_config), window_ms_(window_ms), clock_(clock) {}

void WindowTracker::roll(State& s, std::int64_t window) const {
    if (s.window < 0) {
        s.window = window;
        return;
    }
    const std::int64_t completed = window - s.window;
    if (completed <= 0) {
        return;
    }
    s.baseline = s.has_baseline ? kAlpha * s.count + (1 - kAlpha) * s.baseline : s.count;
    s.has_baseline = true;
    s.baseline = decayed(s.baseline, completed - 1);  // the windows in between were empty
    s.count = 0;
    s.noted = false;
    s.window = window;
}

void WindowTracker::add(const std::string& subject, double amount) {
    if (!config_.enabled) {
        return;
    }
    const std::int64_t now = clock_.now_ms();
    const std::int64_t window = now / window_ms_;
    auto& stripe = stripes_[std::hash<std::string>{}(subject) % stripes_.size()];
    std::lock_guard lock(stripe.mutex);
    auto [it, inserted] = stripe.subjects.try_emplace(subject);
    State& s = it->second;
    if (inserted) {
        s.window = -1;
    }
    roll(s, window);
    s.count += amount;
    if (s.noted) {
        return;
    }
    const bool over_max = config_.max > 0 && s.count >= config_.max;
    const bool over_usual =
        config_.factor > 0 && s.count >= config_.floor && s.count > config_.factor * s.baseline;
    if (!over_max && !over_usual) {
        return;
    }
    s.noted = true;
    Alert a;
    a.rule = rule_;
    a.subject = subject;
    a.at_ms = now;
    a.figures = {
        {figure_name(rule_), s.count}, {"baseline", s.baseline},
        {"factor", config_.factor},    {"floor", config_.floor},
        {"max", config_.max},          {"window_s", static_cast<double>(window_ms_) / 1000.0}};
    stripe.crossed.push_back(std::move(a));
}

std::vector<Alert> WindowTracker::take() {
    const std::int64_t window = clock_.now_ms() / window_ms_;
    std::vector<Alert> out;
    for (auto& stripe : stripes_) {
        std::lock_guard lock(stripe.mutex);
        for (auto& a : stripe.crossed) {
            out.push_back(std::move(a));
        }
        stripe.crossed.clear();
        // Bounded memory: subjects idle for a while with a negligible baseline are forgotten.
        std::erase_if(stripe.subjects, [&](const auto& kv) {
            const State& s = kv.second;
            return s.window < window - 1 && decayed(s.baseline, window - s.window) < 0.05;
        });
    }
    return out;
}

Detector::Detector(const config::AlertsConfig& config, const Clock& clock)
    : config_(config), clock_(clock) {
    user_rate_ = std::make_unique<WindowTracker>(
        "user_rate", config_.user_rate,
        static_cast<std::int64_t>(config_.user_rate.window_s) * 1000, clock_);
    user_minutes_ =
        std::make_unique<WindowTracker>("user_minutes", config_.user_minutes, kMsPerDay, clock_);
    denials_ = std::make_unique<WindowTracker>(
        "denial_spike", config_.denials, static_cast<std::int64_t>(config_.denials.window_s) * 1000,
        clock_);
}

void Detector::token_requested(const std::string& user) {
    user_rate_->add(user, 1);
}

void Detector::token_denied() {
    denials_->add("all", 1);
}

void Detector::session_ended(const std::string& user, std::int64_t billable_ms) {
    user_minutes_->add(user, static_cast<double>(billable_ms) / 60'000.0);
}

void Detector::upstream_rule(const Totals& totals, std::int64_t now, std::vector<Alert>& out) {
    const auto& rule = config_.upstream_errors;
    const std::int64_t window_ms = static_cast<std::int64_t>(rule.window_s) * 1000;
    upstream_history_.emplace_back(now, totals);
    // Keep the newest snapshot at least a window old as the base of the difference.
    while (upstream_history_.size() > 1 && upstream_history_[1].first <= now - window_ms) {
        upstream_history_.pop_front();
    }
    if (!rule.enabled) {
        return;
    }
    const auto& base = upstream_history_.front().second;
    const auto errors = static_cast<double>(totals.upstream_errors - base.upstream_errors);
    const auto calls = static_cast<double>(totals.upstream_calls - base.upstream_calls);
    const std::int64_t window = now / window_ms;
    if (calls <= 0 || errors < std::max(1.0, rule.floor) || errors / calls < rule.ratio ||
        upstream_noted_window_ == window) {
        return;
    }
    upstream_noted_window_ = window;
    Alert a;
    a.rule = "upstream_error_spike";
    a.subject = "all";
    a.at_ms = now;
    a.figures = {{"errors", errors},
                 {"calls", calls},
                 {"error_ratio", errors / calls},
                 {"ratio", rule.ratio},
                 {"floor", rule.floor},
                 {"window_s", static_cast<double>(rule.window_s)}};
    out.push_back(std::move(a));
}

bool Detector::admit(Alert& alert) {
    auto& cd = cooldowns_[alert.rule + "\n" + alert.subject];
    const std::int64_t cooldown_ms = static_cast<std::int64_t>(config_.cooldown_s) * 1000;
    if (cd.last_ms != 0 && alert.at_ms - cd.last_ms < cooldown_ms) {
        ++cd.suppressed;
        ++suppressed_total_;
        return false;
    }
    alert.suppressed = cd.suppressed;
    cd = Cooldown{alert.at_ms, 0};
    return true;
}

std::vector<Alert> Detector::evaluate(const Totals& totals) {
    const std::int64_t now = clock_.now_ms();
    std::vector<Alert> candidates = user_rate_->take();
    for (auto* t : {user_minutes_.get(), denials_.get()}) {
        for (auto& a : t->take()) {
            candidates.push_back(std::move(a));
        }
    }
    std::lock_guard lock(mutex_);
    upstream_rule(totals, now, candidates);
    std::vector<Alert> out;
    for (auto& a : candidates) {
        if (admit(a)) {
            out.push_back(std::move(a));
        }
    }
    // Forget cool-downs that ran out with nothing held back (and any after a day).
    const std::int64_t cooldown_ms = static_cast<std::int64_t>(config_.cooldown_s) * 1000;
    std::erase_if(cooldowns_, [&](const auto& kv) {
        const auto age = now - kv.second.last_ms;
        return (age >= cooldown_ms && kv.second.suppressed == 0) || age >= kMsPerDay;
    });
    return out;
}

std::uint64_t Detector::suppressed_total() const {
    std::lock_guard lock(mutex_);
    return suppressed_total_;
}

std::string to_json(const Alert& alert) {
    namespace json = boost::json;
    json::object figures;
    for (const auto& [k, v] : alert.figures) {
        if (v == std::floor(v) && std::fabs(v) < 1e15) {
            figures[k] = static_cast<std::int64_t>(v);
        } else {
            figures[k] = std::round(v * 1000) / 1000;
        }
    }
    const std::time_t secs = static_cast<std::time_t>(alert.at_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char at[32];
    const auto n = std::strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S", &tm);
    const std::string iso =
        std::string(at, n) + "." + std::to_string(1000 + alert.at_ms % 1000).substr(1) + "Z";
    json::object out{{"type", "alert"},
                     {"rule", alert.rule},
                     {"subject", alert.subject},
                     {"at", iso},
                     {"figures", std::move(figures)},
                     {"suppressed", alert.suppressed},
                     {"service", "voicegate"}};
    return json::serialize(out);
}

}  // namespace voicegate::alerts
