#include "ratelimit/memory_limiter.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace voicegate::ratelimit {

MemoryLimiter::MemoryLimiter(const Clock& clock, MemoryLimiterOptions options)
    : clock_(clock), options_(options) {
    options_.shards = std::max<std::size_t>(1, options_.shards);
    options_.max_keys_per_shard = std::max<std::size_t>(1, options_.max_keys_per_shard);
    shards_ = std::make_unique<Shard[]>(options_.shards);  // NOLINT(*-avoid-c-arrays)
}

MemoryLimiter::~MemoryLimiter() = default;

MemoryLimiter::Shard& MemoryLimiter::shard_for(std::string_view key) {
    // Mix the hash so the shard index and the map's bucket index use different bits.
    const std::uint64_t h = StringHash{}(key)*0x9E3779B97F4A7C15ULL;
    return shards_[(h >> 32U) % options_.shards];
}

std::size_t MemoryLimiter::drop_idle(Shard& shard, std::int64_t now_us) {
    return std::erase_if(shard.tats, [now_us](const auto& kv) { return kv.second <= now_us; });
}

void MemoryLimiter::make_room(Shard& shard, std::int64_t now_us) const {
    const std::size_t max = options_.max_keys_per_shard;
    if (shard.tats.size() < max) {
        return;
    }
    drop_idle(shard, now_us);
    // Free 1/16 of the shard at once so a flood of new keys costs O(1) amortised per insert.
    const std::size_t target = max - std::max<std::size_t>(1, max / 16);
    if (shard.tats.size() <= target) {
        return;
    }
    std::vector<std::pair<std::int64_t, Map::iterator>> by_tat;
    by_tat.reserve(shard.tats.size());
    for (auto it = shard.tats.begin(); it != shard.tats.end(); ++it) {
        by_tat.emplace_back(it->second, it);
    }
    const std::size_t excess = shard.tats.size() - target;
    std::nth_element(by_tat.begin(), by_tat.begin() + static_cast<std::ptrdiff_t>(excess) - 1,
                     by_tat.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < excess; ++i) {
        shard.tats.erase(by_tat[i].second);
    }
}

Result<Decision> MemoryLimiter::check(std::string_view key, const Rate& rate) {
    const std::int64_t now_us = clock_.now_ms() * 1000;
    Shard& shard = shard_for(key);
    GcraDecision g;
    {
        const std::lock_guard lock(shard.mutex);
        if (now_us >= shard.next_sweep_us) {
            drop_idle(shard, now_us);
            shard.next_sweep_us = now_us + options_.sweep_interval_ms * 1000;
        }
        auto it = shard.tats.find(key);
        g = decide(it == shard.tats.end() ? 0 : it->second, now_us, rate);
        if (g.allowed) {
            if (it != shard.tats.end()) {
                it->second = g.new_tat_us;
            } else {
                make_room(shard, now_us);
                shard.tats.emplace(std::string(key), g.new_tat_us);
            }
        }
    }
    return make_decision(g, rate);
}

Decision MemoryLimiter::peek(std::string_view key, const Rate& rate) {
    const std::int64_t now_us = clock_.now_ms() * 1000;
    Shard& shard = shard_for(key);
    GcraDecision g;
    {
        const std::lock_guard lock(shard.mutex);
        auto it = shard.tats.find(key);
        g = decide(it == shard.tats.end() ? 0 : it->second, now_us, rate);
    }
    return make_decision(g, rate);
}

std::size_t MemoryLimiter::size() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < options_.shards; ++i) {
        const std::lock_guard lock(shards_[i].mutex);
        n += shards_[i].tats.size();
    }
    return n;
}

std::size_t MemoryLimiter::sweep() {
    const std::int64_t now_us = clock_.now_ms() * 1000;
    std::size_t n = 0;
    for (std::size_t i = 0; i < options_.shards; ++i) {
        const std::lock_guard lock(shards_[i].mutex);
        n += drop_idle(shards_[i], now_us);
    }
    return n;
}

}  // namespace voicegate::ratelimit
