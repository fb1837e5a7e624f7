#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "alerts/detector.hpp"
#include "metrics/registry.hpp"
#include "store/session_store.hpp"
#include "upstream/http_client.hpp"

namespace voicegate::alerts {

/// Where and how alerts are delivered.
struct NotifierOptions {
    std::string webhook_url;                      // empty: events log only. A secret: never logged.
    std::chrono::milliseconds timeout{5'000};     // per webhook attempt
    int retries = 3;                              // after the first attempt
    std::chrono::milliseconds retry_base{1'000};  // back-off: base, 2 x base, 4 x base, ...
};

/// Delivers alerts: an `alert` event in the events log (reason = rule, detail = the alert's
/// JSON), a warning log line, and, with a webhook URL, a JSON POST retried with exponential
/// back-off in the background. Counts deliveries and failures in `registry`.
/// Thread safety: deliver() may run on any event loop; the notifier must outlive the webhook
/// coroutines it starts (the App stops its loops before destroying it).
class Notifier {
public:
    /// Throws std::runtime_error on an unusable webhook URL (a start-up failure). `http` may be
    /// null when there is no webhook.
    Notifier(NotifierOptions options, store::SessionStore& store,
             std::shared_ptr<upstream::HttpClient> http, metrics::Registry& registry);

    /// Records `alert` in the events log, then starts its webhook POST (not awaited).
    boost::asio::awaitable<void> deliver(Alert alert);

    /// Webhook POSTs answered 2xx, and POSTs given up after every retry. Thread-safe.
    std::uint64_t webhook_sent() const { return sent_->value(); }
    std::uint64_t webhook_failed() const { return failed_->value(); }

private:
    struct State;
    static boost::asio::awaitable<void> post(std::shared_ptr<State> state, std::string body);

    std::shared_ptr<State> state_;
    store::SessionStore& store_;
    std::vector<std::pair<std::string, metrics::Counter*>> by_rule_;
    metrics::Counter* sent_ = nullptr;
    metrics::Counter* failed_ = nullptr;
};

}  // namespace voicegate::alerts
