#include "api/call_request.hpp"

#include <cmath>
#include <variant>

#include <boost/json.hpp>

#include "api/admin_query.hpp"
#include "core/sdp.hpp"
#include "http/media_type.hpp"
#include "http/response.hpp"
#include "upstream/upstream_reply.hpp"

namespace voicegate::api {
namespace json = boost::json;

namespace {

Failure invalid_sdp(const std::string& why) {
    return fail(Error::invalid_sdp, "sdp: " + why);
}

// The JSON form's fields other than `sdp`, read as a /token body.
Result<TokenParams> session_of(json::object body, const config::TokenPolicy& policy) {
    body.erase("sdp");
    auto params = parse_token_request(body, policy);
    if (!params && params.error().message.find("unknown field") != std::string::npos) {
        // parse_token_request lists its own fields; this form has one more.
        auto f = params.error();
        f.message += ", sdp";
        return f;
    }
    return params;
}

Result<CallParams> parse_json_form(const http::Request& req, const config::TokenPolicy& policy) {
    auto body = http::parse_json_object(req);
    if (!body) {
        return body.error();
    }
    const auto* sdp = body->if_contains("sdp");
    std::string offer;
    if (sdp != nullptr && !sdp->is_string()) {
        return fail(Error::invalid_sdp, "sdp: must be a string holding the SDP offer");
    }
    if (sdp != nullptr) {
        offer = std::string(sdp->get_string());
    }
    auto session = session_of(std::move(*body), policy);
    if (!session) {
        return session.error();
    }
    if (sdp == nullptr) {
        return fail(Error::invalid_sdp, "sdp: is required (the SDP offer, \"v=0...\")");
    }
    return CallParams{std::move(*session), std::move(offer), true};
}

Result<CallParams> parse_sdp_form(const http::Request& req, const config::TokenPolicy& policy) {
    auto query = admin_params(req.query, {"model", "voice", "profile", "userId"});
    if (!query) {
        return query.error();
    }
    // The query is the /token body's sessionConfig, validated by the same function.
    json::object config;
    json::object body;
    for (const auto& [key, value] : *query) {
        if (key == "userId") {
            body["userId"] = value;
        } else {
            config[key] = value;
        }
    }
    if (!config.empty()) {
        body["sessionConfig"] = std::move(config);
    }
    auto session = parse_token_request(body, policy);
    if (!session) {
        // Name the query parameter, not the JSON field it was read as.
        auto f = session.error();
        constexpr std::string_view kPrefix = "sessionConfig.";
        if (f.message.starts_with(kPrefix)) {
            f.message.erase(0, kPrefix.size());
        }
        return f;
    }
    return CallParams{std::move(*session), req.body, false};
}

}  // namespace

Result<void> check_sdp_offer(std::string_view sdp, bool allow_other_media) {
    if (sdp.size() > kMaxOfferBytes) {
        return fail(Error::payload_too_large, "sdp: the offer is " + std::to_string(sdp.size()) +
                                                  " bytes; the limit is " +
                                                  std::to_string(kMaxOfferBytes));
    }
    if (sdp.empty()) {
        return invalid_sdp("the offer is empty");
    }
    auto parsed = parse_sdp(sdp);
    if (const auto* bad = std::get_if<SdpSyntaxError>(&parsed)) {
        return invalid_sdp(bad->why);
    }
    const auto& media = std::get<SdpDescription>(parsed).media;
    std::size_t active_audio = 0;
    for (const auto& m : media) {
        active_audio += m.kind == "audio" && m.port != "0" ? 1 : 0;
    }
    if (active_audio != 1) {
        return invalid_sdp("the offer must have exactly one active m=audio line; it has " +
                           std::to_string(active_audio));
    }
    if (!allow_other_media && media.size() != 1) {
        return fail(Error::sdp_policy,
                    "sdp: the session profile allows no media besides the audio (data_channel "
                    "= \"deny\"); offer audio only, without a data channel");
    }
    return {};
}

Result<CallParams> parse_call_request(const http::Request& req, const config::TokenPolicy& policy) {
    const auto type = http::media_type(req.header("content-type").value_or(""));
    if (type == "application/sdp") {
        return parse_sdp_form(req, policy);
    }
    if (http::is_json_media_type(req.header("content-type").value_or(""))) {
        return parse_json_form(req, policy);
    }
    return fail(Error::unsupported_media_type,
                "The request body must be application/sdp (the offer) or application/json.");
}

bool allows_other_media(const config::TokenPolicy& policy, const std::string& profile) {
    const auto* p = profile.empty() ? nullptr : policy.find_profile(profile);
    return p == nullptr || p->data_channel != "deny";
}

std::int64_t call_cap_ms(const config::TokenPolicy& policy, const std::string& profile,
                         std::int64_t default_ms) {
    const auto* p = profile.empty() ? nullptr : policy.find_profile(profile);
    return p != nullptr && p->max_minutes > 0
               ? static_cast<std::int64_t>(std::llround(p->max_minutes * 60'000))
               : default_ms;
}

json::object call_response_body(const upstream::CallAnswer& answer, const std::string& session_id,
                                std::int64_t expires_at, const TokenParams& params) {
    json::object body;
    body["success"] = true;
    body["sdp"] = answer.sdp;
    body["sessionId"] = session_id;
    body["expiresAt"] = expires_at;
    json::object cfg;
    cfg["model"] = params.model;
    cfg["voice"] = params.voice.value_or("");
    body["config"] = std::move(cfg);
    if (!params.warnings.empty()) {
        json::array w;
        for (const auto& s : params.warnings) {
            w.emplace_back(s);
        }
        body["warnings"] = std::move(w);
    }
    return body;
}

Result<AttachParams> parse_attach_request(const json::object& body) {
    AttachParams p;
    for (const auto& [key, value] : body) {
        if (key == "sessionId") {
            const bool ok = value.is_string() && !value.get_string().empty() &&
                            value.get_string().size() <= 128 &&
                            upstream::valid_call_id(value.get_string());
            if (!ok) {
                return fail(Error::bad_request,
                            "sessionId: must be a session id string like \"sess_...\"");
            }
            p.session_id = std::string(value.get_string());
        } else if (key == "callId") {
            if (!value.is_string() || !upstream::valid_call_id(value.get_string())) {
                return fail(Error::bad_request,
                            "callId: must be the call id from the Location of OpenAI's answer "
                            "(\"rtc_...\": letters, digits, _ and -)");
            }
            p.call_id = std::string(value.get_string());
        } else {
            return fail(Error::bad_request,
                        std::string(key) + ": unknown field; allowed: sessionId, callId");
        }
    }
    if (p.session_id.empty()) {
        return fail(Error::bad_request, "sessionId: is required");
    }
    if (p.call_id.empty()) {
        return fail(Error::bad_request, "callId: is required");
    }
    return p;
}

}  // namespace voicegate::api
