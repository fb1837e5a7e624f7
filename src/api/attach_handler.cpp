#include "api/attach_handler.hpp"

#include <boost/json.hpp>

#include "api/call_request.hpp"
#include "api/request_prologue.hpp"
#include "http/response.hpp"

namespace voicegate::api {

AttachHandler::AttachHandler(AttachSettings settings, const auth::TokenVerifier* verifier,
                             store::SessionStore& sessions, CallRecorder& recorder,
                             const Clock& clock, Observer* observer)
    : settings_(std::move(settings)),
      verifier_(verifier),
      sessions_(sessions),
      recorder_(recorder),
      clock_(clock),
      observer_(observer) {}

boost::asio::awaitable<http::Response> AttachHandler::handle(http::Request& req) const {
    auto in = co_await read_request(verifier_, req, parse_attach_request);
    if (!in) {
        co_return http::error_response(in.error(), settings_.dev);
    }
    const auto& params = in->params;
    // The session's profile sets the call's cap; with auth off its owner is the caller (no
    // owner check, as /end).
    auto row = co_await sessions_.get_session(params.session_id);
    if (!row) {
        co_return http::error_response(row.error(), settings_.dev);
    }
    if (!*row) {
        co_return http::error_response(fail(Error::session_not_found), settings_.dev);
    }
    const auto& issued = (*row)->issued;
    store::AttachRequest at;
    at.session_id = params.session_id;
    at.caller_user_id = acting_user(in->claims, issued.user_id);
    at.call_id = params.call_id;
    at.at_ms = clock_.now_ms();
    at.cap_ms = call_cap_ms(settings_.tokens, issued.profile, settings_.default_cap_ms);
    at.client_ip = req.client_ip;
    auto outcome = co_await recorder_.attach(std::move(at));
    if (!outcome) {
        auto res = http::error_response(outcome.error(), settings_.dev);
        res.log_user = in->claims ? in->claims->sub : issued.user_id;
        co_return res;
    }
    if (outcome->newly_attached && observer_ != nullptr) {
        observer_->call_recorded(false);
    }
    auto res = http::json_response(200, boost::json::object{{"success", true},
                                                            {"sessionId", params.session_id},
                                                            {"supervised", true}});
    res.log_user = issued.user_id;
    co_return res;
}

}  // namespace voicegate::api
