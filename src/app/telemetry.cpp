#include "app/telemetry.hpp"

namespace voicegate::app {

Telemetry::Telemetry(const config::Config& config, const Clock& clock) {
    auto& calls = registry.counter(
        "voicegate_calls_total",
        "Calls put under server-side control, by how: relayed (POST /api/realtime/calls) or "
        "attached (POST /api/realtime/attach, first attach only).",
        {"how"});
    calls_relayed_ = &calls.with({"relayed"});
    calls_attached_ = &calls.with({"attached"});
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

void Telemetry::call_recorded(bool relayed) {
    (relayed ? calls_relayed_ : calls_attached_)->inc();
}

}  // namespace voicegate::app
