#include "core/sdp.hpp"

#include "core/text.hpp"

namespace voicegate {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (!line.empty()) {
            lines.push_back(line);
        }
        if (nl == std::string_view::npos) {
            break;
        }
        text.remove_prefix(nl + 1);
    }
    return lines;
}

std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ') {
            ++i;
        }
        const std::size_t start = i;
        while (i < s.size() && s[i] != ' ') {
            ++i;
        }
        if (i > start) {
            words.emplace_back(s.substr(start, i - start));
        }
    }
    return words;
}

bool is_direction(std::string_view a) {
    return a == "sendrecv" || a == "sendonly" || a == "recvonly" || a == "inactive";
}

// An a= line: session-level flags, then what the current m= section (if any) needs.
void read_attribute(std::string_view value, SdpDescription& d) {
    if (value.starts_with("ice-ufrag:")) {
        d.has_ice_ufrag = true;
    } else if (value.starts_with("ice-pwd:")) {
        d.has_ice_pwd = true;
    } else if (value.starts_with("fingerprint:")) {
        d.has_fingerprint = true;
    } else if (value.starts_with("group:BUNDLE")) {
        d.bundle = split_words(value.substr(std::string_view("group:BUNDLE").size()));
    }
    if (d.media.empty()) {
        return;  // session-level attribute
    }
    SdpMedia& m = d.media.back();
    if (value.starts_with("mid:")) {
        m.mid = std::string(value.substr(4));
    } else if (is_direction(value)) {
        m.direction = std::string(value);
    } else if (value.starts_with("rtpmap:") && m.opus_payload_type.empty()) {
        // a=rtpmap:111 opus/48000/2
        const auto words = split_words(value.substr(7));
        if (words.size() == 2 && iequals(words[1], "opus/48000/2")) {
            m.opus_payload_type = words[0];
        }
    } else if (value.starts_with("sctpmap:")) {
        m.sctpmap = std::string(value.substr(8));
    }
}

}  // namespace

std::variant<SdpDescription, SdpSyntaxError> parse_sdp(std::string_view text) {
    const auto lines = split_lines(text);
    if (lines.empty() || lines.front() != "v=0") {
        return SdpSyntaxError{
            "the body is not an SDP session description (it must start with v=0)"};
    }
    SdpDescription d;
    for (const auto line : lines) {
        if (line.size() < 2 || line[1] != '=') {
            return SdpSyntaxError{"malformed line '" + std::string(utf8_prefix(line, 40)) + "'"};
        }
        const std::string_view value = line.substr(2);
        if (line[0] == 'o') {
            d.has_origin = true;
        } else if (line[0] == 'm') {
            auto words = split_words(value);
            if (words.size() < 4) {
                return SdpSyntaxError{"malformed m= line"};
            }
            SdpMedia m;
            m.kind = words[0];
            m.port = words[1];
            m.proto = words[2];
            m.formats.assign(words.begin() + 3, words.end());
            m.direction = "sendrecv";
            d.media.push_back(std::move(m));
        } else if (line[0] == 'a') {
            read_attribute(value, d);
        }
    }
    return d;
}

}  // namespace voicegate
