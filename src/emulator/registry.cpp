#include "emulator/registry.hpp"

#include <algorithm>

namespace voicegate::emulator {

SecretRegistry::SecretRegistry(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)) {}

void SecretRegistry::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
    by_expiry_.erase(it->second.key);
    by_value_.erase(it);
}

void SecretRegistry::add(std::string value, IssuedSecret secret, std::int64_t now_s) {
    std::lock_guard lock(mutex_);
    if (auto it = by_value_.find(value); it != by_value_.end()) {
        erase_locked(it);  // a (vanishingly unlikely) collision
    }
    // Drop what has expired, then, if still full, what expires soonest.
    while (!by_expiry_.empty() &&
           (by_expiry_.begin()->first.first <= now_s || by_value_.size() >= capacity_)) {
        const auto first = by_expiry_.begin();
        const auto victim = by_value_.find(*first->second);
        by_expiry_.erase(first);
        by_value_.erase(victim);
    }
    const ExpiryKey key{secret.expires_at, sequence_++};
    const auto [it, inserted] = by_value_.emplace(std::move(value), Entry{std::move(secret), key});
    by_expiry_.emplace(key, &it->first);
}

std::pair<SecretCheck, std::optional<IssuedSecret>> SecretRegistry::check(std::string_view value,
                                                                          std::int64_t now_s,
                                                                          bool single_use) {
    std::lock_guard lock(mutex_);
    const auto it = by_value_.find(std::string(value));
    if (it == by_value_.end()) {
        return {SecretCheck::unknown, std::nullopt};
    }
    if (it->second.secret.expires_at <= now_s) {
        erase_locked(it);
        return {SecretCheck::expired, std::nullopt};
    }
    if (single_use && it->second.secret.used) {
        return {SecretCheck::used, std::nullopt};
    }
    return {SecretCheck::ok, it->second.secret};
}

bool SecretRegistry::mark_used(std::string_view value, bool single_use) {
    std::lock_guard lock(mutex_);
    const auto it = by_value_.find(std::string(value));
    if (it == by_value_.end() || (single_use && it->second.secret.used)) {
        return false;
    }
    it->second.secret.used = true;
    return true;
}

std::size_t SecretRegistry::size() const {
    std::lock_guard lock(mutex_);
    return by_value_.size();
}

CallRegistry::CallRegistry(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

void CallRegistry::add(std::string call_id, CallRecord call) {
    std::lock_guard lock(mutex_);
    while (calls_.size() >= capacity_ && !order_.empty()) {
        calls_.erase(order_.front());
        order_.pop_front();
    }
    if (calls_.emplace(call_id, std::move(call)).second) {
        order_.push_back(std::move(call_id));
    }
}

bool CallRegistry::hang_up(std::string_view call_id, bool* was_live) {
    std::lock_guard lock(mutex_);
    const auto it = calls_.find(std::string(call_id));
    if (it == calls_.end()) {
        return false;
    }
    if (was_live != nullptr) {
        *was_live = !it->second.hung_up;
    }
    it->second.hung_up = true;
    return true;
}

bool CallRegistry::modify(std::string_view call_id,
                          const std::function<void(CallRecord&)>& change) {
    std::lock_guard lock(mutex_);
    const auto it = calls_.find(std::string(call_id));
    if (it == calls_.end()) {
        return false;
    }
    change(it->second);
    return true;
}

std::optional<CallRecord> CallRegistry::find(std::string_view call_id) const {
    std::lock_guard lock(mutex_);
    const auto it = calls_.find(std::string(call_id));
    if (it == calls_.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::size_t CallRegistry::size() const {
    std::lock_guard lock(mutex_);
    return calls_.size();
}

std::vector<std::string> CallRegistry::ids() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    out.reserve(order_.size());
    for (const auto& id : order_) {
        if (calls_.contains(id)) {
            out.push_back(id);
        }
    }
    return out;
}

}  // namespace voicegate::emulator
