#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/prices.hpp"
#include "metrics/supervision.hpp"
#include "store/session_store.hpp"
#include "store/supervision.hpp"
#include "supervisor/protocol.hpp"
#include "upstream/http_client.hpp"
#include "upstream/sideband_client.hpp"

namespace voicegate::supervisor {

// What the Supervisor is built from (supervisor.hpp): providers, per-call policy, options.

/// What to do when a session.updated shows a locked field changed (profile `on_violation`).
enum class OnViolation { reapply, hangup };

/// How one call is supervised, from its profile. The composition root maps config::Profile to
/// it (config lives above this layer); a call without a profile gets the default (model locked,
/// violations re-applied).
struct CallPolicy {
    boost::json::object profile_fields;       // config::Profile::fields
    std::vector<std::string> allow_override;  // config::Profile::allow_override
    OnViolation on_violation = OnViolation::reapply;
};

/// Hangs up a call upstream (`POST {base}/realtime/calls/{call_id}/hangup`): success also when
/// the call was already over (404). `request_id` is for logs. Wrap a function taking references
/// in a coroutine lambda (`-> awaitable<Result<void>> { co_return co_await api.hangup(c, r); }`)
/// so that its arguments live until it completes.
using Hangup = std::function<boost::asio::awaitable<Result<void>>(std::string call_id,
                                                                  std::string request_id)>;

/// Writes an audit event (SessionStore::append_event): the supervisor's `lock_violation`s.
using EventSink = std::function<boost::asio::awaitable<Result<void>>(store::Event event)>;

/// A voice API as the supervisor uses it (SPEC §7.5: one per provider): its sideband protocol,
/// where its sidebands join (the base URL's origin and path, the API key: a secret) and how it
/// hangs up. Borrowed pointers must outlive the supervisor.
struct Provider {
    const CallProtocol* protocol = nullptr;
    upstream::SidebandConnector* connector = nullptr;
    upstream::BaseUrl base;  // e.g. https://api.openai.com/v1
    std::string api_key;
    Hangup hangup;
};

/// Tunables of the supervisor; the defaults are the service's.
struct SupervisorOptions {
    std::string instance_id;                                // this instance's lease holder name
    std::chrono::milliseconds lease{15'000};                // a lease lasts this long unrenewed
    std::chrono::milliseconds lease_interval{3'000};        // claim and renew this often
    std::size_t claim_limit = 1000;                         // most calls claimed per round
    std::chrono::milliseconds checkpoint_interval{10'000};  // true usage written this often
    std::int64_t quota_ms_per_day = 0;               // the user's daily minutes in ms; 0: no quota
    std::chrono::milliseconds quota_refresh{5'000};  // user_minutes re-read this often
    std::chrono::milliseconds ack_timeout{10'000};   // session.updated expected this soon
    std::chrono::milliseconds rejoin_base{500};      // back-off of re-joins: base * 2^n ...
    std::chrono::milliseconds rejoin_max{30'000};    // ... at most this
    std::chrono::milliseconds drain{2'000};  // after a hang-up, the wait for the last events
};

/// What the supervisor works with (borrowed; all must outlive it).
struct SupervisorDeps {
    store::CallSupervisionStore& store;
    const Clock& clock;  // wall clock: call starts, caps and quotas are unix ms
    /// The provider of a call (nullptr: not supervisable here; the call is left alone).
    std::function<const Provider*(const store::SupervisedCall&)> provider;
    /// The policy of a call (its profile's locked fields and on_violation). Asked once per
    /// provider, profile and model; the answer is kept for later calls of the same three.
    std::function<CallPolicy(const store::SupervisedCall&)> policy;
    const PriceTable* prices = nullptr;  // null: costs stay 0
    EventSink events;                    // null: lock violations only logged and counted
    metrics::SupervisionMetrics* metrics = nullptr;  // null: not counted
};

}  // namespace voicegate::supervisor
