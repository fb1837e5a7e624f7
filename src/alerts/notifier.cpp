#include "alerts/notifier.hpp"

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

namespace voicegate::alerts {
namespace asio = boost::asio;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

struct Notifier::State {
    NotifierOptions options;
    std::shared_ptr<upstream::HttpClient> http;
    upstream::Origin origin;
    std::string target;
    metrics::Counter* sent = nullptr;
    metrics::Counter* failed = nullptr;
};

Notifier::Notifier(NotifierOptions options, store::SessionStore& store,
                   std::shared_ptr<upstream::HttpClient> http, metrics::Registry& registry)
    : state_(std::make_shared<State>()), store_(store) {
    auto& alerts =
        registry.counter("voicegate_alerts_total",
                         "Anomaly alerts raised (after the cool-down), by rule.", {"rule"});
    for (const char* rule : {"user_rate", "user_minutes", "denial_spike", "upstream_error_spike"}) {
        by_rule_.emplace_back(rule, &alerts.with({rule}));
    }
    auto& webhook = registry.counter(
        "voicegate_alert_webhook_total",
        "Alert webhook POSTs by result: sent (2xx) or failed (given up after every retry).",
        {"result"});
    sent_ = &webhook.with({"sent"});
    failed_ = &webhook.with({"failed"});
    state_->options = std::move(options);
    state_->http = std::move(http);
    state_->sent = sent_;
    state_->failed = failed_;
    if (!state_->options.webhook_url.empty()) {
        auto base = upstream::parse_base_url(state_->options.webhook_url);
        if (!base || !state_->http) {
            // The URL is a secret: name the setting, not its value.
            throw std::runtime_error("VOICEGATE_ALERT_WEBHOOK_URL: not a usable http(s) URL");
        }
        state_->origin = base->origin;
        state_->target = base->path.empty() ? "/" : base->path;
    }
}

asio::awaitable<void> Notifier::deliver(Alert alert) {
    for (auto& [rule, counter] : by_rule_) {
        if (rule == alert.rule) {
            counter->inc();
        }
    }
    std::string body = to_json(alert);
    spdlog::warn("alert {} for {}: {}", alert.rule, alert.subject, body);
    store::Event ev;
    ev.at_ms = alert.at_ms;
    ev.type = "alert";
    if (alert.subject != "all") {
        ev.user_id = alert.subject;
    }
    ev.reason = alert.rule;
    ev.detail = body;
    auto logged = co_await store_.append_event(std::move(ev));
    if (!logged) {
        spdlog::error("alert {}: not recorded in the events log: {}", alert.rule,
                      logged.error().details);
    }
    if (!state_->options.webhook_url.empty()) {
        auto ex = co_await asio::this_coro::executor;
        auto task = post(state_, std::move(body));
        asio::co_spawn(ex, std::move(task), asio::detached);
    }
}

asio::awaitable<void> Notifier::post(std::shared_ptr<State> state, std::string body) {
    upstream::HttpRequest req;
    req.method = "POST";
    req.target = state->target;
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = std::move(body);
    auto ex = co_await asio::this_coro::executor;
    const auto& o = state->options;
    for (int attempt = 0;; ++attempt) {
        const auto deadline = std::chrono::steady_clock::now() + o.timeout;
        auto res = co_await state->http->request(state->origin, req, deadline);
        if (res && res->status >= 200 && res->status < 300) {
            state->sent->inc();
            co_return;
        }
        const std::string why = res ? "HTTP " + std::to_string(res->status)
                                    : std::string(upstream::kind_name(res.error().kind));
        if (attempt >= o.retries) {
            state->failed->inc();
            spdlog::error("alert webhook: giving up after {} attempt(s): {}", attempt + 1, why);
            co_return;
        }
        spdlog::warn("alert webhook: attempt {} failed ({}); retrying", attempt + 1, why);
        asio::steady_timer timer(ex);
        timer.expires_after(o.retry_base * (1 << std::min(attempt, 10)));
        co_await timer.async_wait(kUseTuple);
    }
}

}  // namespace voicegate::alerts
