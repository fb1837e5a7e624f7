#include "api/admin_handlers.hpp"

#include <boost/json.hpp>

#include "core/json_text.hpp"
#include "http/response.hpp"

namespace voicegate::api {
namespace {

// A 200 with an admin body. Its doubles (minutes, costs) are printed as people write them
// (431.5, not Boost's 4.315E2).
http::Response admin_json(const boost::json::value& body) {
    http::Response r = http::json_response(200, boost::json::object{});
    r.body = to_json_text(body);
    return r;
}

// GET /api/admin/sessions?format=csv; a further page is announced in X-Next-Cursor.
http::Response csv_response(const std::vector<store::SessionRow>& sessions,
                            std::pair<std::int64_t, std::int64_t> days, const std::string& next) {
    http::Response res;
    res.body = sessions_csv(sessions);
    res.content_type = "text/csv; charset=utf-8";
    // A named string, not a literal: GCC 12 mistakes the inlined move of the literal's
    // temporary for an over-read (-Wstringop-overread).
    static const std::string kDisposition = "Content-Disposition";
    res.set(kDisposition, "attachment; filename=\"" + sessions_csv_filename(days) + "\"");
    if (!next.empty()) {
        res.set("X-Next-Cursor", next);
    }
    return res;
}

}  // namespace

AdminHandler::AdminHandler(AdminSettings settings, const AdminAuth& admin,
                           store::SessionStore& sessions, const Clock& clock)
    : settings_(settings), admin_(admin), sessions_(sessions), clock_(clock) {}

boost::asio::awaitable<std::optional<http::Response>> AdminHandler::refuse(
    const http::Request& req) const {
    if (!admin_.enabled()) {
        co_return http::error_response(fail(Error::not_found), settings_.dev);
    }
    const auto admin = co_await admin_.is_admin(req);
    if (!admin) {
        co_return http::error_response(admin.error(), settings_.dev);  // 429
    }
    if (!*admin) {
        co_return http::error_response(fail(Error::unauthorized), settings_.dev);
    }
    co_return std::nullopt;
}

boost::asio::awaitable<http::Response> AdminHandler::usage(http::Request& req) const {
    if (auto no = co_await refuse(req)) {
        co_return std::move(*no);
    }
    auto q = usage_query(req.query, clock_.now_ms());
    if (!q) {
        co_return http::error_response(q.error(), settings_.dev);
    }
    auto report = co_await sessions_.usage(*q);
    if (!report) {
        co_return http::error_response(report.error(), settings_.dev);
    }
    co_return admin_json(usage_json(*report, *q));
}

boost::asio::awaitable<http::Response> AdminHandler::live(http::Request& req) const {
    if (auto no = co_await refuse(req)) {
        co_return std::move(*no);
    }
    auto p = admin_params(req.query, {});
    if (!p) {
        co_return http::error_response(p.error(), settings_.dev);
    }
    store::LiveQuery q;
    q.now_ms = clock_.now_ms();
    q.max_age_ms = settings_.session_max_ms;
    auto report = co_await sessions_.live(q);
    if (!report) {
        co_return http::error_response(report.error(), settings_.dev);
    }
    co_return admin_json(live_json(*report, q.now_ms));
}

boost::asio::awaitable<http::Response> AdminHandler::sessions(http::Request& req) const {
    if (auto no = co_await refuse(req)) {
        co_return std::move(*no);
    }
    auto r = sessions_query(req.query, clock_.now_ms());
    if (!r) {
        co_return http::error_response(r.error(), settings_.dev);
    }
    auto page = co_await sessions_.list_sessions(r->query);
    if (!page) {
        co_return http::error_response(page.error(), settings_.dev);
    }
    const std::string next = page->next ? encode_session_cursor(*page->next) : std::string();
    if (r->csv) {
        co_return csv_response(page->sessions, r->days, next);
    }
    co_return admin_json(sessions_json(page->sessions, next));
}

boost::asio::awaitable<http::Response> AdminHandler::events(http::Request& req) const {
    if (auto no = co_await refuse(req)) {
        co_return std::move(*no);
    }
    auto q = events_query(req.query, clock_.now_ms());
    if (!q) {
        co_return http::error_response(q.error(), settings_.dev);
    }
    auto page = co_await sessions_.list_events(*q);
    if (!page) {
        co_return http::error_response(page.error(), settings_.dev);
    }
    const std::string next = page->next ? encode_event_cursor(*page->next) : std::string();
    co_return admin_json(events_json(*page, next));
}

}  // namespace voicegate::api
