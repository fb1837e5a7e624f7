#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/sdp.hpp"
#include "emulator/validate.hpp"

// The WebRTC side of `POST /v1/realtime/calls`: read a browser's SDP offer and write an answer
// that the browser's setRemoteDescription({type:'answer'}) accepts. No media is ever served:
// the answer points ICE at a host candidate where nothing listens, so the peer connection
// later fails ICE, exactly as an unreachable media server would. Pure; thread-safe.

namespace voicegate::emulator {

/// One m= section of an offer (the shared reader's, core/sdp.hpp).
using SdpMedia = voicegate::SdpMedia;

/// A parsed SDP offer.
struct SdpOffer {
    std::vector<SdpMedia> media;      // in offer order
    std::vector<std::string> bundle;  // mids of the offer's a=group:BUNDLE, if any
};

/// Parses an SDP offer. 400 (OpenAI shape, code `invalid_offer`; upstream's exact text is
/// UNCONFIRMED) unless it starts with v=0, has o=, m= lines of the form
/// `m=<media> <port> <proto> <fmt>...`, ICE credentials and a DTLS fingerprint, and an audio
/// m-line that offers opus/48000/2. Accepts CRLF or LF line ends. Pure.
ApiResult<SdpOffer> parse_sdp_offer(std::string_view text);

/// The random parts of an answer.
struct SdpAnswerParams {
    std::string ice_ufrag;              // 4..256 ice-chars (RFC 8839); 16 alphanumerics here
    std::string ice_pwd;                // 22..256 ice-chars; 32 alphanumerics here
    std::string fingerprint;            // sha-256 fingerprint: 32 bytes as "AB:CD:..."
    std::string address = "127.0.0.1";  // the host candidate's address (IPv4 or IPv6)
    std::uint16_t port = 3478;          // the host candidate's UDP port
    std::string origin_id = "1";        // o= session id (digits)
    std::string stream_id;              // a=msid stream id of the answerer's audio track
    std::string track_id;               // a=msid track id
};

/// Fresh random answer parameters for `address` (CSPRNG-seeded ids). Thread-safe.
SdpAnswerParams random_answer_params(std::string address);

/// Builds the answer to `offer`, ending every line with CRLF: session-level ice-lite, BUNDLE
/// (the accepted mids that the offer bundled), then one m-section per offered one, in order
/// and with the same mid. The first audio m-line with opus is accepted with the offer's opus
/// payload type (direction mirrored, rtcp-mux, msid), the first SCTP data channel with
/// sctp-port 5000 and max-message-size; each carries ice-ufrag/ice-pwd, the fingerprint,
/// setup:active and a host candidate. Anything else is rejected (port 0, inactive). Pure.
std::string build_sdp_answer(const SdpOffer& offer, const SdpAnswerParams& params);

/// One part of a multipart/form-data body.
struct MultipartPart {
    std::string name;          // from Content-Disposition
    std::string filename;      // from Content-Disposition, empty if none
    std::string content_type;  // empty if the part has none
    std::string body;
};

/// The boundary parameter of a `multipart/form-data` Content-Type, or empty if the type is
/// something else or has no boundary. Pure.
std::string multipart_boundary(std::string_view content_type);

/// Splits a multipart body (RFC 7578) into its parts; empty optional if it is malformed
/// (no opening delimiter, a part without a blank line after its headers, no closing
/// delimiter). Pure.
std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                          std::string_view boundary);

}  // namespace voicegate::emulator
