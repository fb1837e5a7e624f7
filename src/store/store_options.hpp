#pragma once

#include <cstddef>
#include <string>

#include "core/clock.hpp"
#include "core/prices.hpp"
#include "store/audit.hpp"

namespace voicegate::metrics {
class StoreMetrics;
}  // namespace voicegate::metrics

namespace voicegate::store {

/// Engine-independent store settings (config section `store`); SqliteOptions and PgOptions
/// embed them as `common`.
struct StoreOptions {
    std::string synchronous = "full";          // SQLite: "full" or "normal"
    std::size_t batch_max = 1024;              // most writes per group commit (>= 1)
    int busy_timeout_ms = 5000;                // SQLite: wait for locks held by other processes
    const Clock* clock = nullptr;              // nullptr -> system clock; must outlive the store
    metrics::StoreMetrics* metrics = nullptr;  // write batches; may be null; outlives the store
    PriceTable prices = default_prices();      // for the sessions' estimated cost
    DenialSampling denial_sampling;            // which refusals become audit samples
};

}  // namespace voicegate::store
