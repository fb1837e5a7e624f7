#include "app/telemetry.hpp"

namespace voicegate::app {

Telemetry::Telemetry(const config::Config& config, const Clock& clock) {
    if (config.alerts.enabled) {
        detector = std::make_unique<alerts::Detector>(config.alerts, clock);
        registry.callback("voicegate_alerts_suppressed_total",
                          "Anomaly alerts held back by the per-rule-per-subject cool-down.",
                          "counter", [d = detector.get()](auto& out) {
                              out.push_back({{}, static_cast<double>(d->suppressed_total())});
                          });
    }
}

void Telemetry::routes(std::vector<std::string> routes) {
    http = std::make_unique<metrics::HttpMetrics>(registry, std::move(routes));
}

void Telemetry::token_requested(const std::string& user) {
    if (detector) {
        detector->token_requested(user);
    }
}

void Telemetry::token_issued(const std::string& /*user*/) {}

void Telemetry::token_denied(const std::string& /*user*/, Error reason) {
    decisions.denied(reason);
    if (detector) {
        detector->token_denied();
    }
}

void Telemetry::quota_decision(metrics::DecisionMetrics::Quota result) {
    decisions.quota(result);
}

void Telemetry::session_ended(const std::string& user, std::int64_t billable_ms) {
    if (detector) {
        detector->session_ended(user, billable_ms);
    }
}

}  // namespace voicegate::app
