// The emulator's POST /v1/realtime/calls: an SDP offer (parse_sdp_offer, then the answer built
// from it) or a multipart/form-data body (multipart_boundary on a Content-Type, parse_multipart).
// Input: a mode byte; mode & 1 = 0: the rest is an SDP offer; 1: "CONTENT-TYPE\nBODY".
#include <cstdint>

#include "emulator/sdp.hpp"
#include "targets/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace voicegate;
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    if ((mode & 1) == 0) {
        auto offer = emulator::parse_sdp_offer(text);
        if (!offer) {
            (void)emulator::error_body(offer.error());
            return 0;
        }
        emulator::SdpAnswerParams params;
        params.ice_ufrag = "abcdEFGH12345678";
        params.ice_pwd = "abcdefghijklmnopqrstuvwxyz012345";
        params.fingerprint =
            "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
            "23:45:67:89";
        params.stream_id = "stream";
        params.track_id = "track";
        if ((mode & 2) != 0) {
            params.address = "::1";
        }
        (void)emulator::build_sdp_answer(*offer, params);
        return 0;
    }
    const auto nl = text.find('\n');
    const auto content_type = text.substr(0, nl);
    const auto body = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto boundary = emulator::multipart_boundary(content_type);
    if (boundary.empty()) {
        boundary = "fuzzboundary";
    }
    if (auto parts = emulator::parse_multipart(body, boundary)) {
        for (const auto& p : *parts) {
            if (p.name == "sdp") {
                (void)emulator::parse_sdp_offer(p.body);
            }
        }
    }
    return 0;
}
