#include "http/response.hpp"

#include <boost/json.hpp>

#include "http/media_type.hpp"

namespace voicegate::http {

Response json_response(int status, const boost::json::value& body) {
    Response r;
    r.status = status;
    r.body = boost::json::serialize(body);
    return r;
}

Response error_response(const Failure& failure, bool dev) {
    const auto& info = error_info(failure.code);
    boost::json::object body;
    body["success"] = false;
    body["error"] = failure.public_message();
    body["code"] = info.code;
    if (failure.code == Error::quota_exhausted && failure.resets_at > 0) {
        body["resetsAt"] = failure.resets_at;
    }
    if (dev) {
        body["details"] =
            failure.details.empty() ? std::string(failure.public_message()) : failure.details;
    }
    Response r = json_response(info.status, body);
    r.log_error = std::string(info.code);
    if (failure.retry_after_s >= 0) {
        r.set("Retry-After", std::to_string(failure.retry_after_s));
    } else if (info.status == 503 || info.status == 429) {
        r.set("Retry-After", "1");
    }
    if (info.status == 401) {
        r.set("WWW-Authenticate", "Bearer");
    }
    return r;
}

Result<boost::json::object> parse_json_object(const Request& req) {
    const auto ct = req.header("content-type");
    const bool empty = req.body.find_first_not_of(" \t\r\n") == std::string::npos;
    if (empty && !ct) {
        return boost::json::object{};
    }
    if (!ct || !is_json_media_type(*ct)) {
        return fail(Error::unsupported_media_type,
                    "The request body must be JSON: send Content-Type: application/json.");
    }
    if (empty) {
        return boost::json::object{};
    }
    boost::system::error_code ec;
    boost::json::parse_options opts;
    opts.max_depth = 32;
    auto v = boost::json::parse(req.body, ec, {}, opts);
    if (ec) {
        return fail(Error::invalid_json, "The request body is not valid JSON.",
                    "JSON parse error: " + ec.message());
    }
    if (!v.is_object()) {
        return fail(Error::invalid_json, "The request body must be a JSON object.");
    }
    return std::move(v.as_object());
}

}  // namespace voicegate::http
