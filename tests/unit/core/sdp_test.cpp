// The shared SDP reader (core/sdp.hpp): syntax only; the relay and the emulator apply their
// own rules on top (their tests: api/call_request_test.cpp, emulator/sdp_test.cpp).
#include <gtest/gtest.h>

#include <variant>

#include "core/sdp.hpp"

namespace voicegate {
namespace {

TEST(SdpReader, ReadsSectionsAndTheAttributesItsCallersUse) {
    const std::string text =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=group:BUNDLE 0 1\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=mid:0\r\na=recvonly\r\n"
        "a=rtpmap:0 PCMU/8000\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=fingerprint:sha-256 AB:CD\r\n"
        "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n";
    auto parsed = parse_sdp(text);
    ASSERT_TRUE(std::holds_alternative<SdpDescription>(parsed));
    const auto& d = std::get<SdpDescription>(parsed);
    EXPECT_TRUE(d.has_origin && d.has_ice_ufrag && d.has_ice_pwd && d.has_fingerprint);
    EXPECT_EQ(d.bundle, (std::vector<std::string>{"0", "1"}));
    ASSERT_EQ(d.media.size(), 2U);
    EXPECT_EQ(d.media[0].kind, "audio");
    EXPECT_EQ(d.media[0].port, "9");
    EXPECT_EQ(d.media[0].formats, (std::vector<std::string>{"111", "0"}));
    EXPECT_EQ(d.media[0].mid, "0");
    EXPECT_EQ(d.media[0].direction, "recvonly");
    EXPECT_EQ(d.media[0].opus_payload_type, "111");
    EXPECT_EQ(d.media[1].kind, "application");
    EXPECT_EQ(d.media[1].port, "0");
    EXPECT_EQ(d.media[1].direction, "sendrecv");

    std::string lf = text;
    std::erase(lf, '\r');
    auto same = parse_sdp(lf);
    ASSERT_TRUE(std::holds_alternative<SdpDescription>(same));
    EXPECT_EQ(std::get<SdpDescription>(same).media.size(), 2U);
}

TEST(SdpReader, SyntaxErrorsSayWhy) {
    const std::pair<std::string, std::string> cases[] = {
        {"", "must start with v=0"},
        {"v=1\r\n", "must start with v=0"},
        {"\xef\xbb\xbfv=0\r\n", "must start with v=0"},
        {"v=0\r\nhello\r\n", "malformed line 'hello'"},
        {"v=0\r\nm=audio 9 RTP\r\n", "malformed m= line"},
    };
    for (const auto& [text, why] : cases) {
        auto parsed = parse_sdp(text);
        ASSERT_TRUE(std::holds_alternative<SdpSyntaxError>(parsed)) << text;
        EXPECT_NE(std::get<SdpSyntaxError>(parsed).why.find(why), std::string::npos)
            << std::get<SdpSyntaxError>(parsed).why;
    }
    // A long bad line is quoted in part only.
    auto long_line = parse_sdp("v=0\r\n" + std::string(500, 'x') + "\r\n");
    ASSERT_TRUE(std::holds_alternative<SdpSyntaxError>(long_line));
    EXPECT_LT(std::get<SdpSyntaxError>(long_line).why.size(), 80U);
}

}  // namespace
}  // namespace voicegate
