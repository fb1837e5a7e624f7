#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "api/token_request.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"
#include "upstream/realtime_api.hpp"

namespace voicegate::api {

// The pure side of the SDP relay (SPEC §7.1) and of attach (§7.2): request forms in, checked
// parameters out. Every failure is a Failure naming the field or parameter.

/// The largest SDP offer the relay accepts.
constexpr std::size_t kMaxOfferBytes = 64 * 1024;

/// Checks an app's SDP offer: at most kMaxOfferBytes (else 413), SDP syntax (core/sdp.hpp)
/// with exactly one active `m=audio` line (port not 0), else 400 `invalid_sdp`; with
/// `allow_other_media` false (a profile's `data_channel = "deny"`), any other m= line
/// (`m=application`, `m=video`, a disabled second audio) is 400 `sdp_policy`. Pure.
Result<void> check_sdp_offer(std::string_view sdp, bool allow_other_media);

/// A relay request: the session it asks for (validated exactly as a /token request) and the
/// offer, not yet checked (check_sdp_offer, once the profile is known).
struct CallParams {
    TokenParams session;
    std::string sdp;
    bool json_form = false;  // asked as JSON: answer as JSON
};

/// Reads a relay request in either form: `application/sdp` (the body is the offer; the query
/// may carry `model`, `voice`, `profile` and `userId`) or JSON `{"userId", "sessionConfig",
/// "sdp"}` (`sdp` required). 415 for any other content type; 400 naming the field or
/// parameter otherwise. Pure.
Result<CallParams> parse_call_request(const http::Request& req, const config::TokenPolicy& policy);

/// Whether a profile's media policy lets a relayed offer carry media besides its audio: true
/// without a profile (SPEC §7.1: allow by default). Pure.
bool allows_other_media(const config::TokenPolicy& policy, const std::string& profile);

/// The cap of a call of `profile` in ms: its `max_minutes`, else `default_ms`. Pure.
std::int64_t call_cap_ms(const config::TokenPolicy& policy, const std::string& profile,
                         std::int64_t default_ms);

/// The 201 JSON body of a relay request in the JSON form: exactly `success, sdp, sessionId,
/// expiresAt, config` (+ `warnings` when there are any). Pure.
boost::json::object call_response_body(const upstream::CallAnswer& answer,
                                       const std::string& session_id, std::int64_t expires_at,
                                       const TokenParams& params);

/// A validated `POST /api/realtime/attach` request.
struct AttachParams {
    std::string session_id;  // sess_...
    std::string call_id;     // the upstream call id the app got from OpenAI's Location
};

/// Validates an attach body `{"sessionId":"sess_…","callId":"rtc_…"}`: both required,
/// `sessionId` a printable id like /end takes, `callId` a call id (upstream::valid_call_id);
/// a 400 naming the missing or malformed field, never echoing the call id. Pure.
Result<AttachParams> parse_attach_request(const boost::json::object& body);

}  // namespace voicegate::api
