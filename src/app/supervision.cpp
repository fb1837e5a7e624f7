#include "app/supervision.hpp"

#include <stdexcept>

namespace voicegate::app {

supervisor::CallPolicy call_policy_for(const config::TokenPolicy& tokens,
                                       const std::string& profile) {
    supervisor::CallPolicy policy;
    if (const auto* p = profile.empty() ? nullptr : tokens.find_profile(profile)) {
        policy.profile_fields = p->fields;
        policy.allow_override = p->allow_override;
        policy.on_violation = p->on_violation == "hangup" ? supervisor::OnViolation::hangup
                                                          : supervisor::OnViolation::reapply;
    }
    return policy;
}

Supervision::Supervision(SupervisionDeps deps) {
    auto base = upstream::parse_base_url(deps.base_url);
    if (!base) {
        throw std::invalid_argument("supervision: " + std::string(base.error().public_message()));
    }
    connector_ = std::make_unique<upstream::WebSocketSidebandConnector>(
        deps.http, upstream::SidebandOptions{});
    provider_.protocol = &protocol_;
    provider_.connector = connector_.get();
    provider_.base = std::move(*base);
    provider_.api_key = std::move(deps.api_key);
    provider_.hangup = std::move(deps.hangup);

    const auto& cfg = deps.config;
    supervisor::SupervisorOptions options;
    options.instance_id = std::move(deps.instance_id);
    options.quota_ms_per_day = static_cast<std::int64_t>(cfg.quota.minutes_per_day) * 60'000;
    supervisor::SupervisorDeps sd{deps.store,
                                  deps.clock,
                                  [this](const store::SupervisedCall&) { return &provider_; },
                                  [&tokens = cfg.tokens](const store::SupervisedCall& call) {
                                      return call_policy_for(tokens, call.profile);
                                  },
                                  &cfg.prices,
                                  std::move(deps.events),
                                  deps.metrics};
    supervisor_ = std::make_unique<supervisor::Supervisor>(std::move(deps.loops), std::move(sd),
                                                           std::move(options));
}

}  // namespace voicegate::app
