#include "metrics/supervision.hpp"

#include <string>

namespace voicegate::metrics {

namespace {

template <std::size_t N>
std::size_t index_of(const std::array<std::string_view, N>& names, std::string_view name) {
    std::size_t i = 0;
    while (i < N && names[i] != name) {
        ++i;
    }
    return i;
}

}  // namespace

SupervisionMetrics::SupervisionMetrics(Registry& registry) {
    supervised_ = &registry
                       .gauge("voicegate_supervised_calls",
                              "Calls whose sideband this instance supervises now.")
                       .with({});
    auto& events = registry.counter(
        "voicegate_sideband_events_total",
        "Sideband events received, by kind (usage: response.done; ignored: well-formed events "
        "of no use to the supervisor; malformed: not JSON or a field of the wrong shape).",
        {"kind"});
    for (std::size_t i = 0; i < kEventKinds.size(); ++i) {
        events_[i] = &events.with({std::string(kEventKinds[i])});
    }
    auto& ends = registry.counter("voicegate_supervised_call_ends_total",
                                  "Supervised calls ended, by the reason recorded.", {"reason"});
    for (std::size_t i = 0; i < kEndReasons.size(); ++i) {
        ends_[i] = &ends.with({std::string(kEndReasons[i])});
    }
    auto& hangups = registry.counter(
        "voicegate_call_hangups_total",
        "Calls this instance hung up, by reason (cap, quota, lock_violation).", {"reason"});
    for (std::size_t i = 0; i < hangups_.size(); ++i) {
        hangups_[i] = &hangups.with({std::string(kEndReasons[i])});
    }
    auto& violations = registry.counter(
        "voicegate_lock_violations_total",
        "session.updated events that changed a locked field, by what was done (reapply, hangup).",
        {"action"});
    violations_reapply_ = &violations.with({"reapply"});
    violations_hangup_ = &violations.with({"hangup"});
    rejoins_ = &registry
                    .counter("voicegate_sideband_rejoins_total",
                             "Sidebands joined again after they dropped.")
                    .with({});
    auto& joins = registry.counter(
        "voicegate_sideband_join_failures_total",
        "Failed sideband joins (gone: answered 404/410; retry: anything else, retried).", {"kind"});
    join_gone_ = &joins.with({"gone"});
    join_retry_ = &joins.with({"retry"});
    store_errors_ = &registry
                         .counter("voicegate_supervision_store_errors_total",
                                  "Supervision store calls (usage checkpoints, ends, events, "
                                  "leases, minutes) that failed.")
                         .with({});
}

void SupervisionMetrics::event(std::size_t kind) {
    events_[kind < events_.size() ? kind : events_.size() - 1]->inc();
}

void SupervisionMetrics::ended(std::size_t reason, bool hung_up) {
    if (reason >= ends_.size()) {
        return;
    }
    ends_[reason]->inc();
    if (hung_up && reason < hangups_.size()) {
        hangups_[reason]->inc();
    }
}

std::uint64_t SupervisionMetrics::events(std::string_view kind) const {
    const auto i = index_of(kEventKinds, kind);
    return i < events_.size() ? events_[i]->value() : 0;
}

std::uint64_t SupervisionMetrics::ends(std::string_view reason) const {
    const auto i = index_of(kEndReasons, reason);
    return i < ends_.size() ? ends_[i]->value() : 0;
}

std::uint64_t SupervisionMetrics::hangups(std::string_view reason) const {
    const auto i = index_of(kEndReasons, reason);
    return i < hangups_.size() ? hangups_[i]->value() : 0;
}

}  // namespace voicegate::metrics
