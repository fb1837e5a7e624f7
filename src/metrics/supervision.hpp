#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "metrics/registry.hpp"

namespace voicegate::metrics {

/// The supervisor's figures (SPEC §7.4): calls supervised here now, sideband events by kind,
/// call ends by reason (the hang-ups among them apart), lock violations by action, sideband
/// re-joins and failed joins, failed store writes. Children resolved at construction:
/// recording is one relaxed atomic add. Thread-safe.
class SupervisionMetrics {
public:
    /// Sideband event kinds, as supervisor::SidebandEvent::Kind (same order).
    static constexpr std::array<std::string_view, 8> kEventKinds{
        "session_updated", "usage",    "transcription_usage", "expired", "error", "closed",
        "ignored",         "malformed"};
    /// Call end reasons, as store::CallEnd (same order).
    static constexpr std::array<std::string_view, 7> kEndReasons{
        "cap", "quota", "lock_violation", "hangup", "upstream_expired", "closed", "gone"};

    explicit SupervisionMetrics(Registry& registry);

    /// A call began (+1) or stopped (-1) being supervised by this instance.
    void supervised(int delta) { supervised_->add(delta); }
    /// One sideband event of kind index `kind` (kEventKinds order; out of range: malformed).
    void event(std::size_t kind);
    /// A supervised call ended, reason index `reason` (kEndReasons order); `hung_up`: this
    /// instance hung it up (cap, quota, lock_violation).
    void ended(std::size_t reason, bool hung_up);
    /// A locked field changed; `hung_up` false: the locks were re-applied.
    void violation(bool hung_up) { (hung_up ? violations_hangup_ : violations_reapply_)->inc(); }
    /// A sideband joined again after it dropped.
    void rejoin() { rejoins_->inc(); }
    /// A join failed; `gone`: answered 404/410.
    void join_failed(bool gone) { (gone ? join_gone_ : join_retry_)->inc(); }
    /// A supervision store call (checkpoint, end, event, lease, minutes) failed.
    void store_error() { store_errors_->inc(); }

    /// Read-backs for tests.
    double supervised() const { return supervised_->value(); }
    std::uint64_t events(std::string_view kind) const;
    std::uint64_t ends(std::string_view reason) const;
    std::uint64_t hangups(std::string_view reason) const;
    std::uint64_t violations(bool hung_up) const {
        return (hung_up ? violations_hangup_ : violations_reapply_)->value();
    }
    std::uint64_t rejoins() const { return rejoins_->value(); }

private:
    Gauge* supervised_ = nullptr;
    std::array<Counter*, kEventKinds.size()> events_{};
    std::array<Counter*, kEndReasons.size()> ends_{};
    std::array<Counter*, 3> hangups_{};  // cap, quota, lock_violation
    Counter* violations_reapply_ = nullptr;
    Counter* violations_hangup_ = nullptr;
    Counter* rejoins_ = nullptr;
    Counter* join_gone_ = nullptr;
    Counter* join_retry_ = nullptr;
    Counter* store_errors_ = nullptr;
};

}  // namespace voicegate::metrics
