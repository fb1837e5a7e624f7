#include "api/session_issuer.hpp"

#include <spdlog/spdlog.h>

#include "core/text.hpp"
#include "http/response.hpp"

namespace voicegate::api {

SessionIssuer::SessionIssuer(IssuerSettings settings, const RatePolicy& rates,
                             const QuotaDenials& quota_denials, store::SessionStore& sessions,
                             const Clock& clock, Observer* observer)
    : settings_(settings),
      rates_(rates),
      quota_denials_(quota_denials),
      sessions_(sessions),
      clock_(clock),
      observer_(observer) {}

boost::asio::awaitable<Admission> SessionIssuer::admit(const http::Request& req,
                                                       std::string user) const {
    if (observer_ != nullptr) {
        observer_->token_requested(user);
    }
    // Two statements: GCC 12 miscompiles co_await inside a braced initializer.
    auto limits = co_await rates_.limit_token(user, req.client_ip);
    Admission out;
    out.limits = std::move(limits);
    if (!out.limits.allowed) {
        out.refused = deny(req, out.limits.allowed.error(), user, out.limits);
    } else if (auto refused = quota_denials_.recent(user)) {
        // Refused by the store moments ago: spend nothing upstream on a session that would be
        // refused again.
        if (observer_ != nullptr) {
            observer_->quota_decision(metrics::DecisionMetrics::Quota::cached);
        }
        out.refused = deny(req, *refused, user, out.limits);
    } else if (store_recently_down()) {
        // The store could not record a session a moment ago and still says it is not ready:
        // spend nothing that could not be accounted for either; the client retries after a
        // second.
        auto failure = fail(Error::store_unavailable, {}, "the store failed moments ago");
        failure.retry_after_s = 1;
        out.refused = fail_for(failure, user);
    }
    co_return out;
}

store::SessionRecord SessionIssuer::new_session(const http::Request& req, const TokenParams& params,
                                                std::string session_id) const {
    store::SessionRecord rec;
    rec.session_id = std::move(session_id);
    rec.user_id = params.user_id;
    rec.model = params.model;
    rec.voice = params.voice.value_or("");
    rec.profile = params.profile;
    rec.issued_at_ms = clock_.now_ms();
    rec.client_ip = req.client_ip;
    if (auto ua = req.header("user-agent")) {
        rec.user_agent = std::string(utf8_prefix(*ua, 256));
    }
    rec.quota = settings_.quota;
    return rec;
}

boost::asio::awaitable<std::optional<http::Response>> SessionIssuer::record(
    const http::Request& req, store::SessionRecord record, const RateVerdict& limits) const {
    const auto session_id = record.session_id;
    const auto user = record.user_id;
    auto saved = co_await sessions_.create_session(std::move(record));
    if (!saved) {
        co_return not_recorded(req, saved.error(), session_id, user, limits);
    }
    if (store_down_until_ms_.load(std::memory_order_relaxed) != 0) {
        store_down_until_ms_.store(0, std::memory_order_relaxed);  // the store works again
    }
    co_return std::nullopt;
}

http::Response SessionIssuer::deny(const http::Request& req, const Failure& failure,
                                   const std::string& user, const RateVerdict& limits) const {
    if (observer_ != nullptr) {
        observer_->token_denied(user, failure.code);
    }
    // Every refusal is counted and a bounded sample of them audited (SPEC §5, store/audit.hpp):
    // buffered in memory, so that a flood of refusals costs no write per request.
    store::Denial denial;
    denial.at_ms = clock_.now_ms();
    denial.user_id = user;
    denial.client_ip = req.client_ip;
    denial.reason = std::string(error_info(failure.code).code);
    sessions_.record_denial(denial);
    auto res = fail_for(failure, user);
    limits.add_headers_to(res);
    return res;
}

http::Response SessionIssuer::fail_for(const Failure& failure, const std::string& user) const {
    auto res = http::error_response(failure, settings_.dev);
    res.log_user = user;
    return res;
}

void SessionIssuer::issued(const std::string& user) const {
    if (observer_ != nullptr) {
        observer_->quota_decision(metrics::DecisionMetrics::Quota::allowed);
        observer_->token_issued(user);
    }
}

bool SessionIssuer::store_recently_down() const {
    return clock_.now_ms() < store_down_until_ms_.load(std::memory_order_relaxed) &&
           !sessions_.ready();
}

http::Response SessionIssuer::not_recorded(const http::Request& req, const Failure& failure,
                                           const std::string& session_id, const std::string& user,
                                           const RateVerdict& limits) const {
    if (failure.code == Error::quota_exhausted) {
        // The store decided, atomically with every other instance. Whatever was obtained
        // upstream for it is dropped unused (never logged or returned).
        if (observer_ != nullptr) {
            observer_->quota_decision(metrics::DecisionMetrics::quota_reason(failure));
        }
        quota_denials_.note(user, failure);
        return deny(req, failure, user, limits);
    }
    // Never hand out a session the service cannot account for.
    if (failure.code == Error::store_unavailable) {
        store_down_until_ms_.store(clock_.now_ms() + 1'000, std::memory_order_relaxed);
    }
    if (auto held_back = store_errors_.admit()) {
        spdlog::error(
            "request {}: session {} not recorded: {} ({} similar failure(s) since the "
            "last report)",
            req.request_id, session_id, failure.details, *held_back);
    }
    return fail_for(failure, user);
}

boost::asio::awaitable<void> SessionIssuer::release_undelivered(std::string session_id,
                                                                std::string user,
                                                                std::string why) const {
    store::EndRequest end;
    end.session_id = session_id;
    end.reported_duration_s = 0;
    end.message_count = 0;
    end.ended_by = "undelivered";
    end.ended_at_ms = clock_.now_ms();
    auto outcome = co_await sessions_.end_session(std::move(end));
    if (!outcome) {
        spdlog::warn("{}: session {} could not be released: {}", why, session_id,
                     outcome.error().details);
        co_return;
    }
    quota_denials_.forget(user);
    if (observer_ != nullptr && !outcome->already_ended) {
        observer_->session_ended(user, 0);
    }
    spdlog::info("{}: session {} ended as undelivered (user {})", why, session_id, user);
}

}  // namespace voicegate::api
