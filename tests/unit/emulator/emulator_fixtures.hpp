#pragma once

#include <string>

namespace voicegate::emulator::fixtures {

/// A real SDP offer from Chromium 156 (RTCPeerConnection with one sendrecv audio transceiver
/// and the `oai-events` data channel, as the diary app and OpenAI's samples create), with the
/// CRLF line ends it has on the wire.
inline std::string chrome_offer() {
    const std::string lf = R"(
v=0
o=- 3217352482340722591 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:JSaw
a=ice-pwd:1CNZhzcQFSBu76ptDMaZFLqX
a=ice-options:trickle
a=fingerprint:sha-256 CB:8C:89:67:3B:67:87:AD:45:8A:D9:C1:95:5C:67:D2:B1:93:49:AB:BE:9E:43:26:36:DA:34:E6:29:2E:33:70
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:- acedea18-cb67-4873-8052-abfd8e715f08
a=rtcp-mux
a=rtcp-rsize
a=rtcp-xr:rcvr-rtt=all
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:937951181 cname:J+1rbIG/qBgzaLXi
a=ssrc:937951181 msid:- acedea18-cb67-4873-8052-abfd8e715f08
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=ice-ufrag:JSaw
a=ice-pwd:1CNZhzcQFSBu76ptDMaZFLqX
a=ice-options:trickle
a=fingerprint:sha-256 CB:8C:89:67:3B:67:87:AD:45:8A:D9:C1:95:5C:67:D2:B1:93:49:AB:BE:9E:43:26:36:DA:34:E6:29:2E:33:70
a=setup:actpass
a=mid:1
a=sctp-port:5000
a=max-message-size:262144
)";
    std::string crlf;
    for (std::size_t i = 1; i < lf.size(); ++i) {  // skip the raw string's leading newline
        if (lf[i] == '\n') {
            crlf += '\r';
        }
        crlf += lf[i];
    }
    return crlf;
}

}  // namespace voicegate::emulator::fixtures
