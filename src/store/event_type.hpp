#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace voicegate::store {

/// The kinds of audit event (SPEC §5 `events.type`). The stored text of each is its name in
/// event_type_name(); Event::type holds that text.
enum class EventType {
    token_issued,    // a client secret was minted (the session's create)
    token_denied,    // a token request was refused (a sampled denial)
    session_ended,   // a session's first end
    call_hung_up,    // the server hung up a call
    admin_action,    // an administrator changed something
    alert,           // an alert rule fired
    call_relayed,    // the relay created a call for the session (SPEC §7.1)
    call_attached,   // the app attached its token-flow call to the session (SPEC §7.2)
    lock_violation,  // a phone changed a locked session field (SPEC §7.3)
};

/// Every EventType, in declaration order. Pure.
const std::array<EventType, 9>& event_types();

/// The stored text of `type` ("token_issued", ...), a string literal. Pure; thread-safe.
const char* event_type_name(EventType type);

/// The EventType whose stored text is `name`, or nullopt. Pure; thread-safe.
std::optional<EventType> parse_event_type(std::string_view name);

}  // namespace voicegate::store
