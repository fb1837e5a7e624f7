#include "store/supervision.hpp"

#include <array>

namespace voicegate::store {
namespace {

// One name per CallEnd, in declaration order: the text stored in sessions.ended_by, so it must
// never change.
constexpr std::array<const char*, 7> kCallEndNames{
    "cap", "quota", "lock_violation", "hangup", "upstream_expired", "closed", "gone",
};

}  // namespace

const char* call_end_name(CallEnd end) {
    return kCallEndNames[static_cast<std::size_t>(end)];
}

std::optional<CallEnd> parse_call_end(std::string_view name) {
    for (std::size_t i = 0; i < kCallEndNames.size(); ++i) {
        if (name == kCallEndNames[i]) {
            return static_cast<CallEnd>(i);
        }
    }
    return std::nullopt;
}

bool voicegate_hung_up(CallEnd end) {
    return end == CallEnd::cap || end == CallEnd::quota || end == CallEnd::lock_violation ||
           end == CallEnd::hangup;
}

}  // namespace voicegate::store
