#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace voicegate::api {

/// The store's recent quota refusals, remembered per user for a few seconds so that the token
/// handler can refuse again without minting a secret upstream first (SPEC §4). The store stays
/// the judge: this only spares upstream calls.
/// Thread safety: every method is thread-safe (a mutex never held across a co_await).
class QuotaDenials {
public:
    /// `clock` is borrowed and must outlive the cache.
    explicit QuotaDenials(const Clock& clock) : clock_(clock) {}

    /// A refusal of `user` remembered by note() and still in force, its Retry-After recomputed
    /// for now; nullopt otherwise.
    std::optional<Failure> recent(const std::string& user) const;
    /// Remembers that the store refused `user` with the quota Failure `f`, until
    /// min(f.resets_at, now + 5 s).
    void note(const std::string& user, const Failure& f) const;
    /// Forgets `user`'s refusal (this process ended one of the user's sessions).
    void forget(const std::string& user) const;

private:
    struct Entry {
        std::int64_t until_ms = 0;
        Failure failure;
    };
    const Clock& clock_;
    mutable std::mutex mutex_;
    mutable std::unordered_map<std::string, Entry> entries_;
};

}  // namespace voicegate::api
