#include "emulator/sdp.hpp"

#include <cctype>
#include <charconv>

#include "core/ids.hpp"
#include "core/text.hpp"

namespace voicegate::emulator {
namespace {

ApiError bad_offer(std::string_view why) {
    // Upstream's exact status text for a bad offer is UNCONFIRMED; the shape is OpenAI's.
    ApiError e;
    e.status = 400;
    e.message = "Invalid SDP offer: " + std::string(why) + ".";
    e.code = "invalid_offer";
    return e;
}

std::string answer_direction(std::string_view offered) {
    if (offered == "sendonly") {
        return "recvonly";
    }
    if (offered == "recvonly") {
        return "sendonly";
    }
    if (offered == "inactive") {
        return "inactive";
    }
    return "sendrecv";
}

std::uint64_t random_u64() {
    const std::string hex = random_hex("", 16);
    std::uint64_t v = 0;
    std::from_chars(hex.data(), hex.data() + hex.size(), v, 16);
    return v;
}

}  // namespace

ApiResult<SdpOffer> parse_sdp_offer(std::string_view text) {
    auto parsed = parse_sdp(text);
    if (const auto* bad = std::get_if<SdpSyntaxError>(&parsed)) {
        return bad_offer(bad->why);
    }
    auto& d = std::get<SdpDescription>(parsed);
    SdpOffer offer{std::move(d.media), std::move(d.bundle)};
    if (!d.has_origin) {
        return bad_offer("the o= line is missing");
    }
    if (offer.media.empty()) {
        return bad_offer("it has no m= lines");
    }
    if (!d.has_ice_ufrag || !d.has_ice_pwd) {
        return bad_offer("ICE credentials (a=ice-ufrag, a=ice-pwd) are missing");
    }
    if (!d.has_fingerprint) {
        return bad_offer("the DTLS fingerprint (a=fingerprint) is missing");
    }
    bool has_opus = false;
    for (const auto& m : offer.media) {
        has_opus = has_opus || (m.kind == "audio" && m.port != "0" && !m.opus_payload_type.empty());
    }
    if (!has_opus) {
        return bad_offer("it has no audio m= line offering opus/48000/2");
    }
    return offer;
}

SdpAnswerParams random_answer_params(std::string address) {
    SdpAnswerParams p;
    p.ice_ufrag = random_id("", 16);
    p.ice_pwd = random_id("", 32);
    const std::string hex = random_hex("", 64);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        if (i > 0) {
            p.fingerprint += ':';
        }
        p.fingerprint += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
        p.fingerprint += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i + 1])));
    }
    p.address = std::move(address);
    p.port = static_cast<std::uint16_t>(20000 + random_u64() % 40000);
    // A positive 62-bit number, like the browsers' o= session ids.
    p.origin_id = std::to_string((random_u64() >> 2U) | 1U);
    p.stream_id = random_id("", 12);
    p.track_id = random_id("", 12);
    return p;
}

std::string build_sdp_answer(const SdpOffer& offer, const SdpAnswerParams& p) {
    const bool v6 = p.address.find(':') != std::string::npos;
    const std::string ip = std::string(v6 ? "IP6 " : "IP4 ") + p.address;
    const std::string port = std::to_string(p.port);

    // Decide which sections to accept: the first live opus audio and the first SCTP channel.
    std::vector<bool> accepted(offer.media.size(), false);
    bool have_audio = false;
    bool have_data = false;
    for (std::size_t i = 0; i < offer.media.size(); ++i) {
        const auto& m = offer.media[i];
        if (m.port == "0") {
            continue;
        }
        if (m.kind == "audio" && !have_audio && !m.opus_payload_type.empty()) {
            accepted[i] = have_audio = true;
        } else if (m.kind == "application" && !have_data &&
                   m.proto.find("SCTP") != std::string::npos) {
            accepted[i] = have_data = true;
        }
    }

    std::string s;
    s.reserve(2048);
    s += "v=0\r\n";
    s += "o=- " + p.origin_id + " 2 IN IP4 127.0.0.1\r\n";
    s += "s=-\r\n";
    s += "t=0 0\r\n";
    s += "a=ice-lite\r\n";
    if (!offer.bundle.empty()) {
        std::string group;
        for (std::size_t i = 0; i < offer.media.size(); ++i) {
            const auto& mid = offer.media[i].mid;
            bool bundled = false;
            for (const auto& b : offer.bundle) {
                bundled = bundled || b == mid;
            }
            if (accepted[i] && !mid.empty() && bundled) {
                group += " " + mid;
            }
        }
        if (!group.empty()) {
            s += "a=group:BUNDLE" + group + "\r\n";
        }
    }
    s += "a=msid-semantic: WMS " + p.stream_id + "\r\n";

    for (std::size_t i = 0; i < offer.media.size(); ++i) {
        const auto& m = offer.media[i];
        if (!accepted[i]) {
            s += "m=" + m.kind + " 0 " + m.proto + " " + m.formats.front() + "\r\n";
            s += "c=IN IP4 0.0.0.0\r\n";
            if (!m.mid.empty()) {
                s += "a=mid:" + m.mid + "\r\n";
            }
            s += "a=inactive\r\n";
            continue;
        }
        const bool audio = m.kind == "audio";
        if (audio) {
            s += "m=audio " + port + " " + m.proto + " " + m.opus_payload_type + "\r\n";
        } else if (!m.sctpmap.empty()) {  // legacy "DTLS/SCTP 5000" form
            s += "m=application " + port + " " + m.proto + " " + m.formats.front() + "\r\n";
        } else {
            s += "m=application " + port + " " + m.proto + " webrtc-datachannel\r\n";
        }
        s += "c=IN " + ip + "\r\n";
        s += "a=candidate:1 1 udp 2130706431 " + p.address + " " + port + " typ host\r\n";
        s += "a=end-of-candidates\r\n";
        s += "a=ice-ufrag:" + p.ice_ufrag + "\r\n";
        s += "a=ice-pwd:" + p.ice_pwd + "\r\n";
        s += "a=fingerprint:sha-256 " + p.fingerprint + "\r\n";
        s += "a=setup:active\r\n";
        if (!m.mid.empty()) {
            s += "a=mid:" + m.mid + "\r\n";
        }
        if (audio) {
            const std::string dir = answer_direction(m.direction);
            s += "a=" + dir + "\r\n";
            if (dir == "sendrecv" || dir == "sendonly") {
                s += "a=msid:" + p.stream_id + " " + p.track_id + "\r\n";
            }
            s += "a=rtcp-mux\r\n";
            s += "a=rtpmap:" + m.opus_payload_type + " opus/48000/2\r\n";
            s += "a=fmtp:" + m.opus_payload_type + " minptime=10;useinbandfec=1\r\n";
        } else if (!m.sctpmap.empty()) {
            s += "a=sctpmap:" + m.sctpmap + "\r\n";
        } else {
            s += "a=sctp-port:5000\r\n";
            s += "a=max-message-size:262144\r\n";
        }
    }
    return s;
}

std::string multipart_boundary(std::string_view content_type) {
    const auto semi = content_type.find(';');
    if (!iequals(content_type.substr(0, semi), "multipart/form-data") ||
        semi == std::string_view::npos) {
        return {};
    }
    std::string_view params = content_type.substr(semi + 1);
    while (!params.empty()) {
        const auto next = params.find(';');
        std::string_view param = params.substr(0, next);
        while (!param.empty() && param.front() == ' ') {
            param.remove_prefix(1);
        }
        const auto eq = param.find('=');
        if (eq != std::string_view::npos && iequals(param.substr(0, eq), "boundary")) {
            std::string_view b = param.substr(eq + 1);
            while (!b.empty() && b.back() == ' ') {
                b.remove_suffix(1);
            }
            if (b.size() >= 2 && b.front() == '"' && b.back() == '"') {
                b = b.substr(1, b.size() - 2);
            }
            return std::string(b);
        }
        if (next == std::string_view::npos) {
            break;
        }
        params.remove_prefix(next + 1);
    }
    return {};
}

namespace {

// The value of `key="..."` (or key=token) in a Content-Disposition header.
std::string disposition_param(std::string_view header, std::string_view key) {
    std::size_t pos = 0;
    while ((pos = header.find(key, pos)) != std::string_view::npos) {
        const bool boundary_before = pos == 0 || header[pos - 1] == ' ' || header[pos - 1] == ';';
        const std::size_t after = pos + key.size();
        if (boundary_before && after < header.size() && header[after] == '=') {
            std::string_view rest = header.substr(after + 1);
            if (!rest.empty() && rest.front() == '"') {
                const auto end = rest.find('"', 1);
                return std::string(rest.substr(1, end == std::string_view::npos ? end : end - 1));
            }
            return std::string(rest.substr(0, rest.find(';')));
        }
        pos = after;
    }
    return {};
}

}  // namespace

std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                          std::string_view boundary) {
    if (boundary.empty()) {
        return std::nullopt;
    }
    const std::string delimiter = "--" + std::string(boundary);
    std::size_t pos = body.find(delimiter);
    if (pos == std::string_view::npos || (pos > 0 && body.substr(pos - 1, 1) != "\n")) {
        return std::nullopt;
    }
    std::vector<MultipartPart> parts;
    for (;;) {
        pos += delimiter.size();
        if (body.substr(pos, 2) == "--") {
            return parts;  // closing delimiter
        }
        if (body.substr(pos, 2) == "\r\n") {
            pos += 2;
        } else if (body.substr(pos, 1) == "\n") {
            pos += 1;
        } else {
            return std::nullopt;
        }
        // Headers end at the first empty line.
        MultipartPart part;
        for (;;) {
            const auto nl = body.find('\n', pos);
            if (nl == std::string_view::npos) {
                return std::nullopt;
            }
            std::string_view line = body.substr(pos, nl - pos);
            pos = nl + 1;
            if (!line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
            }
            if (line.empty()) {
                break;
            }
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) {
                return std::nullopt;
            }
            const std::string_view name = line.substr(0, colon);
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') {
                value.remove_prefix(1);
            }
            if (iequals(name, "content-disposition")) {
                part.name = disposition_param(value, "name");
                part.filename = disposition_param(value, "filename");
            } else if (iequals(name, "content-type")) {
                part.content_type = std::string(value);
            }
        }
        // The body runs to the next delimiter, which sits on its own line.
        std::size_t next = pos;
        for (;;) {
            next = body.find(delimiter, next);
            if (next == std::string_view::npos) {
                return std::nullopt;
            }
            if (next > 0 && body[next - 1] == '\n') {
                break;
            }
            next += delimiter.size();
        }
        std::size_t end = next - 1;  // drop the line break before the delimiter
        if (end > pos && body[end - 1] == '\r') {
            --end;
        }
        part.body = std::string(body.substr(pos, end > pos ? end - pos : 0));
        parts.push_back(std::move(part));
        pos = next;
    }
}

}  // namespace voicegate::emulator
