#include "store/event_type.hpp"

#include <algorithm>

namespace voicegate::store {
namespace {

// One name per EventType, in declaration order: the text stored in events.type (and written
// by the PostgreSQL statements under sql/pg/ and the migrations), so it must never change.
constexpr std::array<const char*, 9> kNames{
    "token_issued", "token_denied", "session_ended", "call_hung_up",   "admin_action",
    "alert",        "call_relayed", "call_attached", "lock_violation",
};

}  // namespace

const std::array<EventType, 9>& event_types() {
    static constexpr std::array<EventType, 9> kAll{
        EventType::token_issued, EventType::token_denied,  EventType::session_ended,
        EventType::call_hung_up, EventType::admin_action,  EventType::alert,
        EventType::call_relayed, EventType::call_attached, EventType::lock_violation,
    };
    return kAll;
}

const char* event_type_name(EventType type) {
    return kNames[static_cast<std::size_t>(type)];
}

std::optional<EventType> parse_event_type(std::string_view name) {
    const auto found =
        std::find_if(kNames.begin(), kNames.end(), [name](const char* n) { return name == n; });
    if (found == kNames.end()) {
        return std::nullopt;
    }
    return static_cast<EventType>(found - kNames.begin());
}

}  // namespace voicegate::store
