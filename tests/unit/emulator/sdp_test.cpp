#include "emulator/sdp.hpp"

#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "emulator_fixtures.hpp"

namespace voicegate::emulator {
namespace {

std::vector<std::string> lines_of(const std::string& sdp) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < sdp.size()) {
        const auto end = sdp.find("\r\n", pos);
        EXPECT_NE(end, std::string::npos) << "every line must end with CRLF";
        if (end == std::string::npos) {
            break;
        }
        out.push_back(sdp.substr(pos, end - pos));
        pos = end + 2;
    }
    return out;
}

// The lines of each m-section (index 0 = session level).
std::vector<std::vector<std::string>> sections(const std::string& sdp) {
    std::vector<std::vector<std::string>> out(1);
    for (auto& l : lines_of(sdp)) {
        if (l.rfind("m=", 0) == 0) {
            out.emplace_back();
        }
        out.back().push_back(l);
    }
    return out;
}

bool has(const std::vector<std::string>& lines, const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string find_prefix(const std::vector<std::string>& lines, const std::string& prefix) {
    for (const auto& l : lines) {
        if (l.rfind(prefix, 0) == 0) {
            return l.substr(prefix.size());
        }
    }
    return {};
}

TEST(EmulatorSdp, ParsesARealChromeOffer) {
    const auto offer = parse_sdp_offer(fixtures::chrome_offer());
    ASSERT_TRUE(offer) << offer.error().message;
    ASSERT_EQ(offer->media.size(), 2U);
    EXPECT_EQ(offer->media[0].kind, "audio");
    EXPECT_EQ(offer->media[0].mid, "0");
    EXPECT_EQ(offer->media[0].opus_payload_type, "111");
    EXPECT_EQ(offer->media[0].direction, "sendrecv");
    EXPECT_EQ(offer->media[1].kind, "application");
    EXPECT_EQ(offer->media[1].proto, "UDP/DTLS/SCTP");
    EXPECT_EQ(offer->media[1].mid, "1");
    EXPECT_EQ(offer->bundle, (std::vector<std::string>{"0", "1"}));
}

TEST(EmulatorSdp, AnswerMirrorsChromeOffer) {
    const auto offer = parse_sdp_offer(fixtures::chrome_offer());
    ASSERT_TRUE(offer);
    const auto params = random_answer_params("127.0.0.1");
    const std::string answer = build_sdp_answer(*offer, params);
    const auto secs = sections(answer);
    ASSERT_EQ(secs.size(), 3U) << answer;

    const auto& session = secs[0];
    EXPECT_EQ(session.at(0), "v=0");
    EXPECT_TRUE(std::regex_match(session.at(1), std::regex(R"(o=- \d+ 2 IN IP4 127\.0\.0\.1)")));
    EXPECT_TRUE(has(session, "s=-"));
    EXPECT_TRUE(has(session, "t=0 0"));
    EXPECT_TRUE(has(session, "a=ice-lite"));
    EXPECT_TRUE(has(session, "a=group:BUNDLE 0 1"));

    const auto& audio = secs[1];
    EXPECT_TRUE(std::regex_match(audio.at(0), std::regex(R"(m=audio \d+ UDP/TLS/RTP/SAVPF 111)")));
    EXPECT_TRUE(has(audio, "a=mid:0"));
    EXPECT_TRUE(has(audio, "a=sendrecv"));
    EXPECT_TRUE(has(audio, "a=rtcp-mux"));
    EXPECT_TRUE(has(audio, "a=rtpmap:111 opus/48000/2"));
    EXPECT_TRUE(has(audio, "a=setup:active"));
    EXPECT_FALSE(find_prefix(audio, "a=msid:").empty());

    const auto& data = secs[2];
    EXPECT_TRUE(std::regex_match(
        data.at(0), std::regex(R"(m=application \d+ UDP/DTLS/SCTP webrtc-datachannel)")));
    EXPECT_TRUE(has(data, "a=mid:1"));
    EXPECT_TRUE(has(data, "a=sctp-port:5000"));
    EXPECT_FALSE(find_prefix(data, "a=max-message-size:").empty());
    EXPECT_TRUE(has(data, "a=setup:active"));

    for (const auto* sec : {&audio, &data}) {
        // ICE credentials of valid length (RFC 8839: ufrag 4..256, pwd 22..256 ice-chars).
        const std::string ufrag = find_prefix(*sec, "a=ice-ufrag:");
        const std::string pwd = find_prefix(*sec, "a=ice-pwd:");
        EXPECT_TRUE(std::regex_match(ufrag, std::regex(R"([A-Za-z0-9+/]{4,256})"))) << ufrag;
        EXPECT_TRUE(std::regex_match(pwd, std::regex(R"([A-Za-z0-9+/]{22,256})"))) << pwd;
        EXPECT_EQ(ufrag, params.ice_ufrag);
        // A SHA-256 fingerprint: 32 bytes, upper-case hex pairs.
        EXPECT_TRUE(std::regex_match(find_prefix(*sec, "a=fingerprint:sha-256 "),
                                     std::regex(R"(([0-9A-F]{2}:){31}[0-9A-F]{2})")));
        EXPECT_EQ(find_prefix(*sec, "c=IN IP4 "), "127.0.0.1");
        const std::string candidate = find_prefix(*sec, "a=candidate:");
        EXPECT_TRUE(
            std::regex_match(candidate, std::regex(R"(\S+ 1 udp \d+ 127\.0\.0\.1 )" +
                                                   std::to_string(params.port) + " typ host")))
            << candidate;
    }
}

TEST(EmulatorSdp, RandomParametersDiffer) {
    const auto a = random_answer_params("127.0.0.1");
    const auto b = random_answer_params("127.0.0.1");
    EXPECT_NE(a.ice_ufrag, b.ice_ufrag);
    EXPECT_NE(a.ice_pwd, b.ice_pwd);
    EXPECT_NE(a.fingerprint, b.fingerprint);
    EXPECT_EQ(a.fingerprint.size(), 32U * 3 - 1);
}

TEST(EmulatorSdp, MirrorsDirectionAndRejectsExtraSections) {
    std::string offer = fixtures::chrome_offer();
    // recvonly audio, plus a video section and a second audio section appended.
    offer.replace(offer.find("a=sendrecv"), 10, "a=recvonly");
    offer.replace(offer.find("a=group:BUNDLE 0 1"), 18, "a=group:BUNDLE 0 1 2 3");
    offer +=
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sendrecv\r\n"
        "a=rtpmap:96 VP8/90000\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\na=sendrecv\r\n"
        "a=rtpmap:111 opus/48000/2\r\n";
    const auto parsed = parse_sdp_offer(offer);
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto secs = sections(build_sdp_answer(*parsed, random_answer_params("127.0.0.1")));
    ASSERT_EQ(secs.size(), 5U);
    EXPECT_TRUE(has(secs[0], "a=group:BUNDLE 0 1"));
    EXPECT_TRUE(has(secs[1], "a=sendonly"));
    EXPECT_EQ(secs[3].at(0), "m=video 0 UDP/TLS/RTP/SAVPF 96");
    EXPECT_TRUE(has(secs[3], "a=mid:2"));
    EXPECT_TRUE(has(secs[3], "a=inactive"));
    EXPECT_EQ(secs[4].at(0), "m=audio 0 UDP/TLS/RTP/SAVPF 111");
    EXPECT_TRUE(has(secs[4], "a=mid:3"));
}

TEST(EmulatorSdp, AcceptsLfLineEndingsAndIpv6Candidates) {
    std::string offer = fixtures::chrome_offer();
    std::string lf;
    for (const char c : offer) {
        if (c != '\r') {
            lf += c;
        }
    }
    const auto parsed = parse_sdp_offer(lf);
    ASSERT_TRUE(parsed);
    const auto secs = sections(build_sdp_answer(*parsed, random_answer_params("::1")));
    EXPECT_EQ(find_prefix(secs[1], "c=IN IP6 "), "::1");
}

TEST(EmulatorSdp, RejectsWhatIsNotAnOffer) {
    for (const std::string& bad : {
             std::string(),
             std::string("hello"),
             std::string(R"({"type":"offer"})"),
             std::string("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"),  // no m=
             std::string("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9\r\n"),
         }) {
        const auto r = parse_sdp_offer(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().status, 400);
        EXPECT_EQ(r.error().code, "invalid_offer");
    }
    // No ICE credentials / no fingerprint / no opus.
    const std::string offer = fixtures::chrome_offer();
    auto without = [&](const std::string& prefix) {
        std::string out;
        for (std::size_t pos = 0; pos < offer.size();) {
            const auto end = offer.find("\r\n", pos) + 2;
            const std::string line = offer.substr(pos, end - pos);
            if (line.rfind(prefix, 0) != 0) {
                out += line;
            }
            pos = end;
        }
        return out;
    };
    EXPECT_FALSE(parse_sdp_offer(without("a=ice-pwd:")));
    EXPECT_FALSE(parse_sdp_offer(without("a=fingerprint:")));
    EXPECT_FALSE(parse_sdp_offer(without("a=rtpmap:111 ")));
    EXPECT_TRUE(parse_sdp_offer(without("a=rtpmap:63 ")));
}

TEST(EmulatorMultipart, ParsesCurlStyleForm) {
    const std::string body =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"sdp\"; filename=\"offer.sdp\"\r\n"
        "Content-Type: application/sdp\r\n"
        "\r\n"
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"
        "\r\n--XyZ\r\n"
        "Content-Disposition: form-data; name=\"session\"\r\n"
        "Content-Type: application/json\r\n"
        "\r\n"
        "{\"type\":\"realtime\"}"
        "\r\n--XyZ--\r\n";
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=XyZ"), "XyZ");
    EXPECT_EQ(multipart_boundary("Multipart/Form-Data; charset=x; boundary=\"XyZ\""), "XyZ");
    EXPECT_EQ(multipart_boundary("application/sdp"), "");
    const auto parts = parse_multipart(body, "XyZ");
    ASSERT_TRUE(parts);
    ASSERT_EQ(parts->size(), 2U);
    EXPECT_EQ((*parts)[0].name, "sdp");
    EXPECT_EQ((*parts)[0].filename, "offer.sdp");
    EXPECT_EQ((*parts)[0].content_type, "application/sdp");
    EXPECT_EQ((*parts)[0].body, "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n");
    EXPECT_EQ((*parts)[1].name, "session");
    EXPECT_EQ((*parts)[1].body, "{\"type\":\"realtime\"}");
}

TEST(EmulatorMultipart, RejectsMalformedBodies) {
    EXPECT_FALSE(parse_multipart("no delimiter", "b"));
    EXPECT_FALSE(parse_multipart("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n", "b"));
    EXPECT_FALSE(
        parse_multipart("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx", "b"));
    EXPECT_FALSE(parse_multipart("--b\r\n\r\nx\r\n--b--", ""));
    const auto empty = parse_multipart("--b--\r\n", "b");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace voicegate::emulator
