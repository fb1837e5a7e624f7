#pragma once

#include <chrono>
#include <cstdint>

namespace voicegate {

/// Source of wall-clock time, injectable so tests control it (no component reads the clock
/// itself). Implementations must be thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    /// Milliseconds since the Unix epoch.
    virtual std::int64_t now_ms() const = 0;
    std::int64_t now_s() const { return now_ms() / 1000; }
};

/// The real system clock. Thread-safe.
class SystemClock final : public Clock {
public:
    std::int64_t now_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

/// The one process-wide SystemClock, for components that are not handed a clock.
inline const Clock& system_clock() {
    static const SystemClock kClock;
    return kClock;
}

}  // namespace voicegate
