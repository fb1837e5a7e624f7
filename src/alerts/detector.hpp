#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace voicegate::alerts {

/// One anomaly worth telling an operator about.
struct Alert {
    std::string rule;        // user_rate | user_minutes | denial_spike | upstream_error_spike
    std::string subject;     // the user id, or "all" for service-wide rules
    std::int64_t at_ms = 0;  // when it was raised
    std::vector<std::pair<std::string, double>> figures;  // what was measured, and the limits
    std::uint64_t suppressed = 0;  // same rule and subject, held back by the cool-down since
                                   // the previous alert
};

/// Service-wide monotonic counters read at each evaluation (from the metrics).
struct Totals {
    std::uint64_t upstream_calls = 0;
    std::uint64_t upstream_errors = 0;  // 429, 5xx, no response
};

/// Counts events in fixed windows per subject, keeps an EWMA of earlier windows' counts as the
/// subject's baseline, and notes a subject once per window when its count crosses the rule's
/// threshold. Thread-safe: 16 lock stripes by subject hash, each held for a hash-map update.
class WindowTracker {
public:
    WindowTracker(std::string rule, const config::AlertRule& rule_config, std::int64_t window_ms,
                  const Clock& clock);
    /// Adds `amount` to `subject`'s current window; checks the threshold.
    void add(const std::string& subject, double amount);
    /// Takes the crossings noted since the last call, and forgets idle subjects.
    std::vector<Alert> take();

private:
    struct State {
        std::int64_t window = 0;  // index of the current window
        double count = 0;
        double baseline = 0;  // EWMA of earlier windows' counts (empty ones count as 0)
        bool has_baseline = false;
        bool noted = false;  // crossed in this window already
    };
    struct Stripe {
        std::mutex mutex;
        std::unordered_map<std::string, State> subjects;
        std::vector<Alert> crossed;
    };
    void roll(State& s, std::int64_t window) const;

    std::string rule_;
    config::AlertRule config_;
    std::int64_t window_ms_;
    const Clock& clock_;
    std::array<Stripe, 16> stripes_;
};

/// The anomaly rules of issue 4 §5: (a) a user's token requests in a window far above their
/// EWMA baseline (and above a floor) or above an absolute maximum, (b) a user's billable minutes
/// today likewise against earlier days, (c) token denials per minute, (d) upstream error ratio
/// and count per minute. Event updates are cheap (a striped hash-map update); evaluate() runs
/// on a timer, applies the per-rule-per-subject cool-down and returns what to report.
/// Thread safety: every method may be called from any thread.
class Detector {
public:
    Detector(const config::AlertsConfig& config, const Clock& clock);

    /// A token request of `user` (counted before the rate limits decide).
    void token_requested(const std::string& user);
    /// A token request was refused (any reason).
    void token_denied();
    /// A session of `user` ended with `billable_ms` billable time.
    void session_ended(const std::string& user, std::int64_t billable_ms);

    /// Checks every rule now; returns the alerts to report (at most one per rule and subject
    /// per cool-down; the others are counted in the next one's `suppressed`).
    std::vector<Alert> evaluate(const Totals& totals);

    /// Alerts held back by the cool-down so far, in total. Thread-safe.
    std::uint64_t suppressed_total() const;

private:
    void upstream_rule(const Totals& totals, std::int64_t now, std::vector<Alert>& out);
    bool admit(Alert& alert);

    config::AlertsConfig config_;
    const Clock& clock_;
    std::unique_ptr<WindowTracker> user_rate_;
    std::unique_ptr<WindowTracker> user_minutes_;
    std::unique_ptr<WindowTracker> denials_;

    mutable std::mutex mutex_;  // the rest: evaluate() state
    std::deque<std::pair<std::int64_t, Totals>> upstream_history_;
    std::int64_t upstream_noted_window_ = -1;
    struct Cooldown {
        std::int64_t last_ms = 0;
        std::uint64_t suppressed = 0;
    };
    std::unordered_map<std::string, Cooldown> cooldowns_;  // "rule\nsubject"
    std::uint64_t suppressed_total_ = 0;
};

/// The alert as the JSON object stored in the event's `detail` and POSTed to the webhook:
/// {"type":"alert","rule","subject","at" (ISO 8601 UTC),"figures":{...},"suppressed",
/// "service":"voicegate"}. Pure.
std::string to_json(const Alert& alert);

}  // namespace voicegate::alerts
