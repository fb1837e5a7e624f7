#include "api/end_handler.hpp"

#include <boost/json.hpp>

#include "api/request_prologue.hpp"
#include "api/token_request.hpp"
#include "http/response.hpp"
#include "store/quota.hpp"

namespace voicegate::api {

namespace {
namespace json = boost::json;

/// The body of a 200 answer to an end request: a first end echoes the client's `endedBy` (when
/// the supervisor saw the call end first, the record keeps its reason, e.g. "cap", and the
/// client still gets the four fields it sent); a repeat shows the stored record. Pure.
json::object end_body(const store::EndOutcome& outcome, const std::string& reported_by) {
    const auto& row = outcome.row;
    json::object data;
    data["sessionId"] = row.issued.session_id;
    data["duration"] = duration_json(row.reported_duration_s.value_or(0));
    data["messageCount"] = row.message_count.value_or(0);
    data["endedBy"] = outcome.already_ended ? row.ended_by.value_or("user") : reported_by;
    json::object out;
    out["success"] = true;
    out["message"] = outcome.already_ended ? "Session was already ended; nothing changed"
                                           : "Session ended and logged successfully";
    out["sessionData"] = std::move(data);
    if (outcome.already_ended) {
        out["alreadyEnded"] = true;
    }
    return out;
}

}  // namespace

EndHandler::EndHandler(bool dev, const auth::TokenVerifier* verifier,
                       const QuotaDenials& quota_denials, store::SessionStore& sessions,
                       const Clock& clock, Observer* observer)
    : dev_(dev),
      verifier_(verifier),
      quota_denials_(quota_denials),
      sessions_(sessions),
      clock_(clock),
      observer_(observer) {}

boost::asio::awaitable<http::Response> EndHandler::handle(http::Request& req) const {
    auto in = co_await read_request(verifier_, req, parse_end_request);
    if (!in) {
        co_return http::error_response(in.error(), dev_);
    }
    store::EndRequest end;
    end.session_id = in->params.session_id;
    end.reported_duration_s = in->params.duration_s;
    end.message_count = in->params.message_count;
    end.ended_by = in->params.ended_by;
    const std::string reported_by = end.ended_by;
    end.ended_at_ms = clock_.now_ms();
    end.client_ip = req.client_ip;
    if (in->claims) {
        // Only the session's owner may end it (403 otherwise).
        end.check_owner = true;
        end.caller_user_id = in->claims->sub;
    }
    auto outcome = co_await sessions_.end_session(std::move(end));
    if (!outcome) {
        co_return http::error_response(outcome.error(), dev_);
    }
    const auto& row = outcome->row;
    if (!outcome->already_ended) {
        // A slot or some minutes may have come free: let the store decide the user's next token.
        quota_denials_.forget(row.issued.user_id);
        if (observer_ != nullptr) {
            observer_->session_ended(row.issued.user_id,
                                     store::billable_ms(row.reported_duration_s.value_or(0),
                                                        row.observed_duration_s.value_or(0)));
        }
    }
    auto res = http::json_response(200, end_body(*outcome, reported_by));
    res.log_user = row.issued.user_id;
    co_return res;
}

}  // namespace voicegate::api
