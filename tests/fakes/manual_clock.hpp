#pragma once

#include <atomic>

#include "core/clock.hpp"

namespace voicegate::test {

/// A clock that moves only when a test says so. Thread-safe.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t start_ms = 1'790'000'000'000) : now_(start_ms) {}
    std::int64_t now_ms() const override { return now_.load(); }
    void advance_ms(std::int64_t ms) { now_ += ms; }

private:
    std::atomic<std::int64_t> now_;
};

}  // namespace voicegate::test
