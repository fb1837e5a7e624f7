#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

// The one SDP reader (RFC 8866), shared by the relay's offer check (api/sdp_check) and the
// emulator's answerer (emulator/sdp): lines, m= sections and the attributes either needs. It
// checks syntax only; what an offer must contain is each caller's policy. Pure; thread-safe.

namespace voicegate {

/// One m= section, reduced to what the relay and the emulator read.
struct SdpMedia {
    std::string kind;                  // "audio", "video", "application", ...
    std::string port;                  // as offered; "0" means the offerer disabled it
    std::string proto;                 // "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ...
    std::vector<std::string> formats;  // payload types, or "webrtc-datachannel"
    std::string mid;                   // a=mid, empty if absent
    std::string direction;             // sendrecv (default), sendonly, recvonly, inactive
    std::string opus_payload_type;     // audio: the PT of opus/48000/2, empty if not offered
    std::string sctpmap;               // legacy data channel: the a=sctpmap value
};

/// A parsed session description.
struct SdpDescription {
    std::vector<SdpMedia> media;      // in order
    std::vector<std::string> bundle;  // mids of a=group:BUNDLE, if any
    bool has_origin = false;          // an o= line
    bool has_ice_ufrag = false;       // a=ice-ufrag (session or media level)
    bool has_ice_pwd = false;         // a=ice-pwd
    bool has_fingerprint = false;     // a=fingerprint
};

/// Why a text is not SDP: a sentence for an error message, quoting at most 40 bytes.
struct SdpSyntaxError {
    std::string why;
};

/// Parses `text` as a session description: it must start with `v=0`, every non-empty line
/// must be `<letter>=<value>`, and every m= line `m=<media> <port> <proto> <fmt>...`. CRLF or
/// LF line ends. Pure.
std::variant<SdpDescription, SdpSyntaxError> parse_sdp(std::string_view text);

}  // namespace voicegate
