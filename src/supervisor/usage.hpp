#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "core/prices.hpp"
#include "store/supervision.hpp"
#include "supervisor/protocol.hpp"

namespace voicegate::supervisor {

/// A call's true usage as the sideband reports it (SPEC §7.3), summed into store::TrueUsage and
/// priced per modality at the call model's prices (core/prices.hpp: cached input at the cached
/// price). Input transcription is summed but not priced: the price table has no rates for the
/// transcription models (reference §4.4 lists them as UNCONFIRMED), so `cost_usd` covers the
/// responses only. A response.done seen twice (same response id, among the last 64) counts once.
/// Not thread-safe: one per call, used from its coroutine.
class UsageAccumulator {
public:
    /// Starts from `so_far` (a takeover continues from the last checkpoint). `price` null: the
    /// model has no prices (cost stays 0); borrowed, must outlive the accumulator.
    UsageAccumulator(store::TrueUsage so_far, const ModelPrice* price);

    /// Adds a `usage` or `transcription_usage` event, or a `closed` one carrying cumulative
    /// totals; false (nothing added) for any other event or a response already counted.
    bool add(const SidebandEvent& event);
    /// The totals so far, `cost_usd` included.
    const store::TrueUsage& total() const { return total_; }
    /// Counts the additions (0 at the start): a checkpoint notes the version it wrote, and
    /// later ones are due only once it moved.
    std::uint64_t version() const { return version_; }

private:
    void price();
    static constexpr std::size_t kRecentResponses = 64;

    store::TrueUsage total_;
    const ModelPrice* price_;
    std::deque<std::string> recent_;  // response ids already counted
    std::uint64_t version_ = 0;
};

/// Adds `b` to `a`, modality by modality. Pure.
void add_tokens(TokenUsage& a, const TokenUsage& b);

}  // namespace voicegate::supervisor
