#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/supervision.hpp"
#include "store/supervision.hpp"
#include "supervisor/supervisor.hpp"
#include "upstream/http_client.hpp"
#include "upstream/sideband_client.hpp"

namespace voicegate::app {

/// The supervisor's policy of a call with `profile` (empty or unknown: the default, the model
/// locked and violations re-applied): the profile's fields and allow_override. Pure.
supervisor::CallPolicy call_policy_for(const config::TokenPolicy& tokens,
                                       const std::string& profile);

/// What the supervision stack is built from (borrowed; all must outlive it).
struct SupervisionDeps {
    const config::Config& config;
    const Clock& clock;
    std::vector<boost::asio::io_context*> loops;
    std::shared_ptr<upstream::HttpClient> http;  // the upstream client's (one TLS context)
    std::string base_url;                        // the upstream (or embedded emulator) base URL
    std::string api_key;                         // its key (a secret)
    store::CallSupervisionStore& store;
    supervisor::Hangup hangup;     // RealtimeApi::hangup, wrapped as a coroutine lambda
    supervisor::EventSink events;  // SessionStore::append_event, same
    metrics::SupervisionMetrics* metrics = nullptr;
    std::string instance_id;  // this instance's lease holder name
};

/// The supervision of SPEC §7.3 as the service runs it: OpenAI Realtime's protocol, the
/// WebSocket sideband over the shared HTTP client, and the Supervisor, with the settings of the
/// configuration (prices, the daily minute quota, profiles). Thread safety: as Supervisor.
class Supervision {
public:
    /// Throws std::invalid_argument on a bad base URL (a start-up failure).
    explicit Supervision(SupervisionDeps deps);
    void start() { supervisor_->start(); }
    void wake() { supervisor_->wake(); }
    void stop() { supervisor_->stop(); }
    supervisor::Supervisor& supervisor() { return *supervisor_; }

private:
    supervisor::OpenAiRealtimeProtocol protocol_;
    std::unique_ptr<upstream::WebSocketSidebandConnector> connector_;
    supervisor::Provider provider_;
    std::unique_ptr<supervisor::Supervisor> supervisor_;
};

}  // namespace voicegate::app
