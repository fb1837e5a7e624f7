// Sideband event text as the supervisor reads it (src/supervisor/protocol.hpp): OpenAI
// Realtime's parse(), then what the supervisor does with the event: the lock comparison of a
// session.updated against a profile's locks, and the usage sum and price of usage events.
// Input: the text of one WebSocket message.
#include <cstdint>
#include <string>

#include <boost/json/parse.hpp>

#include "supervisor/protocol.hpp"
#include "supervisor/usage.hpp"
#include "targets/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace voicegate;
    static const supervisor::OpenAiRealtimeProtocol kProtocol;
    static const auto kLocked = supervisor::locked_fields(
        boost::json::parse(R"({"voice":"marin","instructions":"Be brief.","speed":1.1,
            "turn_detection":{"type":"server_vad","silence_duration_ms":500},
            "tools":[{"type":"function","name":"save","parameters":{"type":"object"}}]})")
            .as_object(),
        {"voice"}, "gpt-realtime");
    const auto event = kProtocol.parse(fuzz::as_text(data, size));
    if (event.kind == supervisor::SidebandEvent::Kind::session_updated) {
        (void)kProtocol.violations(kLocked, event.session);
    }
    supervisor::UsageAccumulator usage({}, &default_prices().at("gpt-realtime"));
    usage.add(event);
    usage.add(event);  // a repeat counts once when the event has a response id
    if (event.kind == supervisor::SidebandEvent::Kind::malformed && event.problem.empty()) {
        __builtin_trap();  // a malformed event always names what was wrong
    }
    return 0;
}
