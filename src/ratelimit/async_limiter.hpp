#pragma once

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "ratelimit/gcra.hpp"
#include "ratelimit/limiter.hpp"

namespace voicegate::ratelimit {

/// One key to count under one rate.
struct LimitCheck {
    std::string key;  // opaque, namespaced by policy: "user:<sub>", "ip:<addr>"
    Rate rate;
};

/// The limiter as the request path sees it (SPEC §4): asynchronous, so a shared store (Redis)
/// can sit behind it without blocking an event loop.
///
/// `check` decides several policies of one request in one call (one round trip for Redis):
/// the checks run in order, atomically as a whole, and stop at the first refusal; a check is
/// counted only if it and every check before it passed, so a request refused by an earlier
/// policy never spends a later one's allowance. The answer holds one Decision per check that
/// ran: all of them when every check passed, else up to and including the refused one.
///
/// A Decision with `limit == 0` means "not enforced" (a store that fails open while it is
/// unreachable): it is allowed and carries no RateLimit headers.
///
/// A Failure (`store_unavailable`) means no decision could be made (store unreachable or too
/// slow and configured to fail closed).
///
/// Thread safety: implementations may be called concurrently from coroutines on every event
/// loop they were built for.
class AsyncLimiter {
public:
    virtual ~AsyncLimiter() = default;
    AsyncLimiter() = default;
    AsyncLimiter(const AsyncLimiter&) = delete;
    AsyncLimiter& operator=(const AsyncLimiter&) = delete;

    /// Counts one request against `checks` (see the class comment). Must be co_awaited on an
    /// event loop; never throws for store failures.
    virtual boost::asio::awaitable<Result<std::vector<Decision>>> check(
        std::vector<LimitCheck> checks) = 0;
};

/// Runs the checks of `AsyncLimiter::check` on a synchronous `Limiter`: in order, stopping at
/// the first refusal. The first Failure is returned as is. Pure apart from the limiter.
[[nodiscard]] Result<std::vector<Decision>> check_in_order(Limiter& limiter,
                                                           const std::vector<LimitCheck>& checks);

/// An AsyncLimiter over an in-process `Limiter` (the MemoryLimiter of SPEC §4 "in-process
/// without Redis"): answers at once, without suspending. Note that several checks are atomic
/// only per key here, which is what one process needs: a refusal still never spends a later
/// check. Thread-safe if `inner` is (MemoryLimiter is).
class SyncLimiterAdapter final : public AsyncLimiter {
public:
    /// `inner` is borrowed and must outlive the adapter.
    explicit SyncLimiterAdapter(Limiter& inner) : inner_(inner) {}

    /// See AsyncLimiter::check.
    boost::asio::awaitable<Result<std::vector<Decision>>> check(
        std::vector<LimitCheck> checks) override;

private:
    Limiter& inner_;
};

}  // namespace voicegate::ratelimit
