#include "api/quota_denials.hpp"

#include <algorithm>

namespace voicegate::api {

std::optional<Failure> QuotaDenials::recent(const std::string& user) const {
    const std::int64_t now = clock_.now_ms();
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(user);
    if (it == entries_.end()) {
        return std::nullopt;
    }
    if (it->second.until_ms <= now) {
        entries_.erase(it);
        return std::nullopt;
    }
    Failure f = it->second.failure;
    f.retry_after_s = static_cast<int>(std::max<std::int64_t>(0, f.resets_at - now / 1000));
    return f;
}

void QuotaDenials::note(const std::string& user, const Failure& f) const {
    // Short on purpose: another instance may end one of the user's sessions meanwhile, and only
    // the store knows.
    constexpr std::int64_t kRememberMs = 5'000;
    constexpr std::size_t kMaxUsers = 100'000;
    const std::int64_t now = clock_.now_ms();
    const std::int64_t until = std::min(now + kRememberMs, f.resets_at * 1000);
    if (until <= now) {
        return;
    }
    std::lock_guard lock(mutex_);
    if (entries_.size() >= kMaxUsers) {
        // Bounded memory: drop what has run out, and everything if that is not enough.
        std::erase_if(entries_, [now](const auto& kv) { return kv.second.until_ms <= now; });
        if (entries_.size() >= kMaxUsers) {
            entries_.clear();
        }
    }
    entries_[user] = Entry{until, f};
}

void QuotaDenials::forget(const std::string& user) const {
    std::lock_guard lock(mutex_);
    entries_.erase(user);
}

}  // namespace voicegate::api
