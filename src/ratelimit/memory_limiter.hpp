#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"
#include "ratelimit/limiter.hpp"

namespace voicegate::ratelimit {

/// Sizing of a MemoryLimiter.
struct MemoryLimiterOptions {
    std::size_t shards = 64;                  // independent mutex + map pairs
    std::size_t max_keys_per_shard = 2048;    // memory bound: shards * this keys in all
    std::int64_t sweep_interval_ms = 60'000;  // how often a shard drops idle keys by itself
};

/// In-process GCRA limiter (SPEC §4 "in-process without Redis").
///
/// Keys are spread over shards, each a mutex and a hash map from key to TAT; the lock is held
/// only for the lookup, the GCRA step and the store, so decisions on one key are exact under
/// any concurrency. A key whose TAT has passed is in the same state as an unknown key, so it
/// is dropped losslessly: every `sweep_interval_ms` per shard, and whenever a shard is full.
/// If a full shard has nothing idle, the keys closest to idle (smallest TAT) are dropped,
/// 1/16 of the shard at a time; that forgives at most their little remaining debt and only
/// under a flood of distinct keys.
/// Time comes only from the injected clock. Thread safety: `check`, `size` and `sweep` may be
/// called concurrently from any thread.
class MemoryLimiter final : public Limiter {
public:
    /// `clock` is borrowed and must outlive the limiter.
    explicit MemoryLimiter(const Clock& clock, MemoryLimiterOptions options = {});
    ~MemoryLimiter() override;

    /// Counts one request for `key` under `rate`; never fails. Thread-safe.
    [[nodiscard]] Result<Decision> check(std::string_view key, const Rate& rate) override;

    /// What `check` would answer for `key` under `rate` now, without counting anything (for
    /// limits that count only failures: look first, count on failure). Thread-safe.
    [[nodiscard]] Decision peek(std::string_view key, const Rate& rate);

    /// Number of keys held (locks each shard in turn; for metrics and tests). Thread-safe.
    std::size_t size() const;

    /// Drops every idle key now; returns how many. Thread-safe.
    std::size_t sweep();

private:
    struct StringHash {
        using is_transparent = void;  // NOLINT(readability-identifier-naming): std name
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    using Map = std::unordered_map<std::string, std::int64_t, StringHash, std::equal_to<>>;
    struct alignas(64) Shard {
        std::mutex mutex;
        Map tats;  // key -> TAT in microseconds
        std::int64_t next_sweep_us = 0;
    };

    Shard& shard_for(std::string_view key);
    static std::size_t drop_idle(Shard& shard, std::int64_t now_us);
    void make_room(Shard& shard, std::int64_t now_us) const;

    const Clock& clock_;
    MemoryLimiterOptions options_;
    std::unique_ptr<Shard[]> shards_;  // NOLINT(*-avoid-c-arrays): fixed count, never resized
};

}  // namespace voicegate::ratelimit
