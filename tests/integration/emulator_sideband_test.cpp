// The emulator's call control over real loopback sockets: calls relayed as multipart with the
// API key, the sideband WebSocket joined with a Beast client (support/ws_test_client), the
// scripted conversation, hang-up, the phone's control routes, the cap, the sideband faults and
// the server's drain of open WebSockets.

#include <atomic>
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "emulator/emulator.hpp"
#include "http/server.hpp"
#include "support/eventually.hpp"
#include "support/http_test_client.hpp"
#include "support/ws_test_client.hpp"
#include "unit/emulator/emulator_fixtures.hpp"

namespace voicegate::emulator {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using Headers = std::vector<std::pair<std::string, std::string>>;
using std::chrono::milliseconds;
using test::WsTestClient;

constexpr const char* kKey = "sk-test-sideband-0123456789";
const Headers kAuth = {{"Authorization", std::string("Bearer ") + kKey}};

// An audio-only offer: the chrome offer without its data channel.
std::string audio_only_offer() {
    std::string sdp = fixtures::chrome_offer();
    sdp = sdp.substr(0, sdp.find("m=application"));
    const std::string bundle = "a=group:BUNDLE 0 1";
    sdp.replace(sdp.find(bundle), bundle.size(), "a=group:BUNDLE 0");
    return sdp;
}

std::string multipart(const std::string& sdp, const std::string& session) {
    return "--vgB\r\nContent-Disposition: form-data; name=\"sdp\"\r\n"
           "Content-Type: application/sdp\r\n\r\n" +
           sdp +
           "\r\n--vgB\r\nContent-Disposition: form-data; name=\"session\"\r\n"
           "Content-Type: application/json\r\n\r\n" +
           session + "\r\n--vgB--\r\n";
}

class SidebandWs : public ::testing::Test {
protected:
    void start(EmulatorOptions options = {}) {
        options.api_key = kKey;
        emulator_ = std::make_unique<Emulator>(std::move(options));
        http::ServerOptions so;
        so.port = 0;
        so.access_log = false;
        so.name = "emulator";
        server_ = std::make_unique<http::Server>(std::vector<asio::io_context*>{&ioc_[0], &ioc_[1]},
                                                 so, emulator_->handler());
        server_->start();
        for (auto& c : ioc_) {
            threads_.emplace_back([this, &c] {
                c.run();
                ++loops_done_;
            });
        }
    }

    void TearDown() override {
        if (server_) {
            server_->begin_drain();
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (loops_done_.load() < threads_.size() &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(milliseconds(5));
        }
        for (auto& c : ioc_) {
            c.stop();
        }
        for (auto& t : threads_) {
            t.join();
        }
        server_.reset();
    }

    test::HttpResult request(const std::string& method, const std::string& target,
                             const std::string& body = {}, const Headers& headers = {}) {
        return test::http_request("127.0.0.1", server_->port(), method, target, body, headers);
    }

    // Relays a call as a server does (multipart, API key); returns the 201 answer.
    test::HttpResult relay(const std::string& sdp = fixtures::chrome_offer(),
                           const std::string& session =
                               R"({"type":"realtime","model":"gpt-realtime","instructions":"x"})") {
        Headers h = kAuth;
        h.emplace_back("Content-Type", "multipart/form-data; boundary=vgB");
        return request("POST", "/v1/realtime/calls", multipart(sdp, session), h);
    }

    // A new call's id (from its Location).
    std::string new_call() {
        const auto res = relay();
        EXPECT_EQ(res.status, 201) << res.body;
        const std::string location = res.header("location");
        return location.substr(location.rfind('/') + 1);
    }

    WsTestClient::Handshake join(WsTestClient& ws, const std::string& call_id,
                                 const Headers& headers = kAuth) {
        return ws.connect(server_->port(), "/v1/realtime?call_id=" + call_id, headers);
    }

    // GET /_emulator/calls/{id}: the call's state.
    json::object state(const std::string& call_id) {
        const auto res = request("GET", "/_emulator/calls/" + call_id);
        EXPECT_EQ(res.status, 200) << res.body;
        return res.status == 200 ? json::parse(res.body).as_object() : json::object{};
    }

    json::object stats() {
        return json::parse(request("GET", "/_emulator/stats").body).as_object();
    }

    static json::object session_update(const std::string& event_id, const std::string& session) {
        return json::object{
            {"type", "session.update"}, {"event_id", event_id}, {"session", json::parse(session)}};
    }

    std::array<asio::io_context, 2> ioc_;
    std::unique_ptr<Emulator> emulator_;
    std::unique_ptr<http::Server> server_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> loops_done_{0};
};

TEST_F(SidebandWs, CallsAreAnsweredAsTheRealApiAnswers) {
    start();
    auto res = relay();
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_EQ(res.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_TRUE(std::regex_match(res.header("location"),
                                 std::regex("/v1/realtime/calls/rtc_u0_[A-Za-z0-9]{22}")))
        << res.header("location");
    EXPECT_EQ(res.header("access-control-expose-headers"), "Location, X-Request-Id");
    EXPECT_EQ(res.headers.count("access-control-expose-headers"), 1U);
    EXPECT_TRUE(res.header("x-request-id").starts_with("req_"));
    EXPECT_NE(res.body.find("m=application"), std::string::npos);  // the offer had one

    res = relay(audio_only_offer());
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_NE(res.body.find("m=audio"), std::string::npos);
    EXPECT_EQ(res.body.find("m=application"), std::string::npos);
}

TEST_F(SidebandWs, SessionUpdateIsAnsweredWithTheFullSessionAndNothingComesBefore) {
    start();
    const auto before = std::chrono::system_clock::now();
    const std::string call_id = new_call();
    WsTestClient ws;
    const auto hs = join(ws, call_id);
    ASSERT_EQ(hs.status, 101) << hs.error << hs.body;
    EXPECT_TRUE(ws.silent_for(milliseconds(300)));  // no session.created on the sideband

    ASSERT_TRUE(ws.send_json(
        session_update("evt_client_1", R"({"type":"realtime","instructions":"Speak like a pirate.",
                            "audio":{"output":{"voice":"marin"}}})")));
    const auto updated = ws.receive_json();
    ASSERT_TRUE(updated);
    EXPECT_EQ(updated->at("type"), "session.updated");
    EXPECT_NE(updated->at("event_id"), "evt_client_1");  // no echo of the client's id
    const auto& session = updated->at("session").as_object();
    EXPECT_EQ(session.at("id").as_string(), "sess_" + call_id.substr(4));
    EXPECT_EQ(session.at("object"), "realtime.session");
    EXPECT_EQ(session.at("model"), "gpt-realtime");
    EXPECT_EQ(session.at("instructions"), "Speak like a pirate.");
    EXPECT_EQ(session.at("audio").at("output").at("voice"), "marin");
    EXPECT_EQ(session.at("tool_choice"), "auto");  // the full session, defaults included
    const auto created_s =
        std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count();
    const auto expires_at = session.at("expires_at").as_int64();
    EXPECT_GE(expires_at, created_s + 3600);
    EXPECT_LE(expires_at, created_s + 3602);

    // A partial update keeps the rest.
    ASSERT_TRUE(ws.send_json(session_update("evt_client_2", R"({"max_output_tokens":300})")));
    const auto second = ws.receive_type("session.updated");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->at("session").at("instructions"), "Speak like a pirate.");
    EXPECT_EQ(second->at("session").at("max_output_tokens"), 300);

    // A model change is refused with the client's event id.
    ASSERT_TRUE(ws.send_json(session_update("evt_client_3", R"({"model":"gpt-realtime-mini"})")));
    const auto error = ws.receive_json();
    ASSERT_TRUE(error);
    EXPECT_EQ(error->at("type"), "error");
    EXPECT_EQ(error->at("error").at("event_id"), "evt_client_3");
    EXPECT_EQ(error->at("error").at("type"), "invalid_request_error");
    EXPECT_EQ(error->at("error").at("code"), "cannot_update_model");

    const auto s = stats();
    EXPECT_EQ(s.at("sidebands_open"), 1);
    EXPECT_EQ(s.at("sidebands_opened"), 1);
    EXPECT_EQ(s.at("sideband_events_sent"), 3);
}

TEST_F(SidebandWs, JoinsAreRefusedBeforeTheUpgrade) {
    start();
    const std::string call_id = new_call();
    WsTestClient none;
    auto hs = join(none, call_id, {});
    EXPECT_EQ(hs.status, 401);
    WsTestClient wrong;
    hs = join(wrong, call_id, {{"Authorization", "Bearer sk-wrong-key"}});
    EXPECT_EQ(hs.status, 401);
    WsTestClient unknown;
    hs = join(unknown, "rtc_u0_doesnotexist");
    EXPECT_EQ(hs.status, 404);
    EXPECT_EQ(json::parse(hs.body).at("error").at("code"), "call_id_not_found");

    // An ephemeral key: 404 call_id_not_found, as the API answers since 2026-09.
    const auto secret =
        request("POST", "/v1/realtime/client_secrets", R"({"session":{"type":"realtime"}})",
                {kAuth[0], {"Content-Type", "application/json"}});
    ASSERT_EQ(secret.status, 200);
    const std::string ek(json::parse(secret.body).at("value").as_string());
    WsTestClient with_ek;
    hs = join(with_ek, call_id, {{"Authorization", "Bearer " + ek}});
    EXPECT_EQ(hs.status, 404);
    EXPECT_EQ(json::parse(hs.body).at("error").at("code"), "call_id_not_found");
    EXPECT_EQ(hs.body.find(ek), std::string::npos);
}

TEST_F(SidebandWs, EphemeralKeysJoinWhenSwitchedOn) {
    EmulatorOptions o;
    o.sideband.refuse_ephemeral = false;
    start(o);
    const auto secret = request("POST", "/v1/realtime/client_secrets",
                                R"({"session":{"type":"realtime","instructions":"minted"}})",
                                {kAuth[0], {"Content-Type", "application/json"}});
    ASSERT_EQ(secret.status, 200);
    const std::string ek(json::parse(secret.body).at("value").as_string());
    const auto call =
        request("POST", "/v1/realtime/calls", fixtures::chrome_offer(),
                {{"Authorization", "Bearer " + ek}, {"Content-Type", "application/sdp"}});
    ASSERT_EQ(call.status, 201);
    const std::string location = call.header("location");
    WsTestClient ws;
    ASSERT_EQ(
        join(ws, location.substr(location.rfind('/') + 1), {{"Authorization", "Bearer " + ek}})
            .status,
        101);
    ASSERT_TRUE(ws.send_json(session_update("e1", R"({"max_output_tokens":100})")));
    const auto updated = ws.receive_type("session.updated");
    ASSERT_TRUE(updated);
    EXPECT_EQ(updated->at("session").at("instructions"), "minted");  // the secret's session
}

TEST_F(SidebandWs, ScriptedTurnsCarryTheConfiguredUsage) {
    EmulatorOptions o;
    o.sideband.turn_interval_ms = 150;
    o.sideband.response_usage = ResponseUsage{100, 250, 0, 40, 10, 0, 20, 300};
    o.sideband.transcription_usage.input_audio = 33;
    o.sideband.transcription_usage.output = 7;
    start(o);
    const std::string call_id = new_call();
    WsTestClient ws;
    ASSERT_EQ(join(ws, call_id).status, 101);
    EXPECT_TRUE(ws.silent_for(milliseconds(400)));  // turns start once the client has spoken
    ASSERT_TRUE(ws.send_json(session_update("e1", R"({"instructions":"hi"})")));
    ASSERT_TRUE(ws.receive_type("session.updated"));
    const json::value expected_usage = json::parse(R"({
        "total_tokens":670,"input_tokens":350,"output_tokens":320,
        "input_token_details":{"text_tokens":100,"audio_tokens":250,"image_tokens":0,
          "cached_tokens":50,
          "cached_tokens_details":{"text_tokens":40,"audio_tokens":10,"image_tokens":0}},
        "output_token_details":{"text_tokens":20,"audio_tokens":300}})");
    for (int turn = 1; turn <= 2; ++turn) {
        std::vector<json::object> seen;
        const auto transcription = ws.receive_type(
            "conversation.item.input_audio_transcription.completed", milliseconds(3000), &seen);
        ASSERT_TRUE(transcription) << "turn " << turn;
        EXPECT_EQ(transcription->at("usage"),
                  json::parse(R"({"type":"tokens","total_tokens":40,"input_tokens":33,
                      "input_token_details":{"text_tokens":0,"audio_tokens":33},
                      "output_tokens":7})"));
        const auto created = ws.receive_type("response.created", milliseconds(3000), &seen);
        ASSERT_TRUE(created);
        EXPECT_TRUE(created->at("response").at("usage").is_null());
        const auto done = ws.receive_type("response.done", milliseconds(3000), &seen);
        ASSERT_TRUE(done);
        EXPECT_EQ(done->at("response").at("usage"), expected_usage);
        EXPECT_EQ(done->at("response").at("id"), created->at("response").at("id"));
        EXPECT_TRUE(ws.receive_type("rate_limits.updated", milliseconds(1000), &seen));
        EXPECT_TRUE(ws.receive_type("output_audio_buffer.stopped", milliseconds(1000), &seen));
        bool transcript_done = false;
        for (const auto& e : seen) {
            EXPECT_NE(e.at("type"), "response.output_audio.delta");  // never audio bytes
            transcript_done |= e.at("type") == "response.output_audio_transcript.done";
        }
        EXPECT_TRUE(transcript_done);
    }
    EXPECT_TRUE(
        test::eventually([&] { return stats().at("sideband_responses_sent").as_int64() >= 2; }));
    const auto s = state(call_id);
    EXPECT_EQ(s.at("live"), true);
    EXPECT_TRUE(s.at("ended_by").is_null());
    EXPECT_EQ(s.at("sidebands"), 1);
    EXPECT_GE(s.at("turns").as_int64(), 2);
    EXPECT_EQ(s.at("session").at("instructions"), "hi");
    EXPECT_EQ(request("GET", "/_emulator/calls/rtc_u0_unknown").status, 404);
}

TEST_F(SidebandWs, HangupClosesTheSidebandAndEndsTheCall) {
    start();
    const std::string call_id = new_call();
    WsTestClient ws;
    ASSERT_EQ(join(ws, call_id).status, 101);
    const auto hang = request("POST", "/v1/realtime/calls/" + call_id + "/hangup", "", kAuth);
    EXPECT_EQ(hang.status, 200);
    const auto closed = ws.wait_closed();
    ASSERT_TRUE(closed.ended);
    EXPECT_TRUE(closed.close_frame) << closed.error;
    EXPECT_EQ(closed.code, 1000);
    const auto s = state(call_id);
    EXPECT_EQ(s.at("live"), false);
    EXPECT_EQ(s.at("ended_by"), "hangup");
    WsTestClient again;
    const auto hs = join(again, call_id);
    EXPECT_EQ(hs.status, 404);
    EXPECT_EQ(json::parse(hs.body).at("error").at("code"), "call_id_not_found");
    EXPECT_TRUE(test::eventually([&] { return stats().at("sidebands_open") == 0; }));
}

TEST_F(SidebandWs, ThePhonesSessionUpdateReachesEverySidebandAndLeavingEndsTheCall) {
    start();
    const std::string call_id = new_call();
    WsTestClient a;
    WsTestClient b;
    ASSERT_EQ(join(a, call_id).status, 101);
    ASSERT_EQ(join(b, call_id).status, 101);
    auto res = request("POST", "/_emulator/calls/" + call_id + "/session.update",
                       R"({"type":"realtime","instructions":"from the phone"})",
                       {{"Content-Type", "application/json"}});
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(json::parse(res.body).at("instructions"), "from the phone");
    for (auto* ws : {&a, &b}) {
        const auto updated = ws->receive_type("session.updated");
        ASSERT_TRUE(updated);
        EXPECT_EQ(updated->at("session").at("instructions"), "from the phone");
    }
    res = request("POST", "/_emulator/calls/" + call_id + "/session.update",
                  R"({"model":"gpt-realtime-mini"})");
    EXPECT_EQ(res.status, 400);

    res = request("POST", "/_emulator/calls/" + call_id + "/leave");
    EXPECT_EQ(res.status, 200) << res.body;
    for (auto* ws : {&a, &b}) {
        const auto closed = ws->wait_closed();
        EXPECT_TRUE(closed.close_frame);
        EXPECT_EQ(closed.code, 1000);
    }
    EXPECT_EQ(state(call_id).at("ended_by"), "left");
    WsTestClient again;
    EXPECT_EQ(join(again, call_id).status, 404);
    EXPECT_EQ(request("POST", "/_emulator/calls/" + call_id + "/leave").status, 404);
    EXPECT_EQ(request("POST", "/_emulator/calls/" + call_id + "/session.update", "{}").status, 404);
    EXPECT_EQ(request("POST", "/_emulator/calls/rtc_nope/turn").status, 404);
}

TEST_F(SidebandWs, TheCapSendsSessionExpiredThenCloses1001) {
    EmulatorOptions o;
    o.sideband.call_cap_seconds = 1;
    start(o);
    const auto started = std::chrono::steady_clock::now();
    const std::string call_id = new_call();
    WsTestClient ws;
    ASSERT_EQ(join(ws, call_id).status, 101);
    const auto error = ws.receive_json(milliseconds(3000));
    ASSERT_TRUE(error);
    EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(900));
    EXPECT_EQ(error->at("type"), "error");
    EXPECT_EQ(error->at("error").at("type"), "invalid_request_error");
    EXPECT_EQ(error->at("error").at("code"), "session_expired");
    EXPECT_EQ(error->at("error").at("message"),
              "Your session hit the maximum duration of 60 minutes.");
    const auto closed = ws.wait_closed();
    EXPECT_TRUE(closed.close_frame);
    EXPECT_EQ(closed.code, 1001);
    EXPECT_EQ(closed.reason, "Your session hit the maximum duration of 60 minutes.");
    EXPECT_EQ(state(call_id).at("ended_by"), "expired");
    WsTestClient again;
    EXPECT_EQ(join(again, call_id).status, 404);
}

TEST_F(SidebandWs, ADroppedSidebandCanRejoinTheLiveCall) {
    EmulatorOptions o;
    o.faults.sideband_drop_after_ms = 300;
    start(o);
    const std::string call_id = new_call();
    WsTestClient ws;
    ASSERT_EQ(join(ws, call_id).status, 101);
    const auto closed = ws.wait_closed(milliseconds(3000));
    ASSERT_TRUE(closed.ended);
    EXPECT_FALSE(closed.close_frame);  // TCP gone, no close frame
    EXPECT_EQ(stats().at("faults_injected").at("sideband_dropped"), 1);

    ASSERT_EQ(request("DELETE", "/_emulator/faults").status, 200);
    WsTestClient again;
    ASSERT_EQ(join(again, call_id).status, 101);  // the call lives on
    ASSERT_TRUE(again.send_json(session_update("e1", R"({"instructions":"back"})")));
    const auto updated = again.receive_type("session.updated");
    ASSERT_TRUE(updated);
    EXPECT_EQ(updated->at("session").at("instructions"), "back");
}

TEST_F(SidebandWs, RefusedAndSlowSidebandFaults) {
    EmulatorOptions o;
    o.faults.sideband_refuse_rate = 1;
    start(o);
    const std::string call_id = new_call();
    WsTestClient refused;
    EXPECT_EQ(join(refused, call_id).status, 503);
    EXPECT_EQ(stats().at("faults_injected").at("sideband_refused"), 1);

    auto res = request("POST", "/_emulator/faults",
                       R"({"sideband_refuse_rate":0,"sideband_delay_ms":400})",
                       {{"Content-Type", "application/json"}});
    ASSERT_EQ(res.status, 200) << res.body;
    WsTestClient slow;
    ASSERT_EQ(join(slow, call_id).status, 101);
    const auto sent = std::chrono::steady_clock::now();
    ASSERT_TRUE(slow.send_json(session_update("e1", R"({"instructions":"slow"})")));
    ASSERT_TRUE(slow.receive_type("session.updated", milliseconds(3000)));
    EXPECT_GE(std::chrono::steady_clock::now() - sent, milliseconds(380));
}

TEST_F(SidebandWs, SessionCreatedFirstWhenSwitchedOn) {
    EmulatorOptions o;
    o.sideband.emit_session_created = true;
    start(o);
    const std::string call_id = new_call();
    WsTestClient ws;
    ASSERT_EQ(join(ws, call_id).status, 101);
    const auto first = ws.receive_json();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->at("type"), "session.created");
    EXPECT_EQ(first->at("session").at("id").as_string(), "sess_" + call_id.substr(4));
    EXPECT_EQ(first->at("session").at("instructions"), "x");
}

TEST_F(SidebandWs, TheControlTurnRouteAndResponseCreatePlayATurn) {
    start();
    const std::string call_id = new_call();
    WsTestClient ws;
    ASSERT_EQ(join(ws, call_id).status, 101);
    EXPECT_EQ(request("POST", "/_emulator/calls/" + call_id + "/turn").status, 200);
    ASSERT_TRUE(ws.receive_type("response.done"));
    ASSERT_TRUE(ws.send_json(json::object{{"type", "response.create"}}));
    ASSERT_TRUE(ws.receive_type("response.done"));
}

TEST_F(SidebandWs, ADrainClosesOpenSidebandsWith1001) {
    start();
    const std::string call_id = new_call();
    WsTestClient ws;
    ASSERT_EQ(join(ws, call_id).status, 101);
    EXPECT_EQ(server_->active_connections(), 1U);
    server_->begin_drain();
    const auto closed = ws.wait_closed();
    EXPECT_TRUE(closed.close_frame) << closed.error;
    EXPECT_EQ(closed.code, 1001);
    EXPECT_TRUE(test::eventually([&] { return server_->active_connections() == 0; }));
}

TEST_F(SidebandWs, APlainGetIsAskedToUpgrade) {
    start();
    const std::string call_id = new_call();
    const auto res = request("GET", "/v1/realtime?call_id=" + call_id, "", kAuth);
    EXPECT_EQ(res.status, 426);
    EXPECT_EQ(request("GET", "/v1/realtime?call_id=rtc_u0_none", "", kAuth).status, 404);
}

}  // namespace
}  // namespace voicegate::emulator
