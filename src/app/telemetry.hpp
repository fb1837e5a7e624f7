#pragma once

#include <memory>
#include <string>
#include <vector>

#include "alerts/detector.hpp"
#include "api/observer.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/instruments.hpp"
#include "metrics/registry.hpp"

namespace voicegate::app {

/// The process's metrics and anomaly detector, and the api::Observer that feeds them from the
/// handlers. Built by the App before every component that reports to it; outlives them.
/// Thread safety: the instruments and the detector are thread-safe; routes() once at start-up.
class Telemetry final : public api::Observer {
public:
    Telemetry(const config::Config& config, const Clock& clock);

    /// Registers the HTTP metrics for the router's `routes` (call once, after the routes).
    void routes(std::vector<std::string> routes);

    metrics::Registry registry;
    metrics::UpstreamMetrics upstream{registry};
    metrics::DecisionMetrics decisions{registry};
    metrics::StoreMetrics store{registry};
    std::unique_ptr<metrics::HttpMetrics> http;
    std::unique_ptr<alerts::Detector> detector;  // null when alerts are off

    void token_requested(const std::string& user) override;
    void token_issued(const std::string& user) override;
    void token_denied(const std::string& user, Error reason) override;
    void quota_decision(metrics::DecisionMetrics::Quota result) override;
    void session_ended(const std::string& user, std::int64_t billable_ms) override;
    void call_recorded(bool relayed) override;

private:
    metrics::Counter* calls_relayed_ = nullptr;
    metrics::Counter* calls_attached_ = nullptr;
};

}  // namespace voicegate::app
