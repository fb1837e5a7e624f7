#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "supervisor/options.hpp"

namespace voicegate::supervisor {

/// The supervisor of SPEC §7.3: holds one sideband per supervised call, each a coroutine on one
/// of the event loops (spread round-robin; no thread per call). A lease loop on the first loop
/// claims calls (new ones and those of dead instances) and renews the leases of its own every
/// lease_interval; a call whose lease is lost, or not renewed for a whole lease, stops being
/// supervised here at once, so no call is supervised twice at once. Per call: join the
/// sideband, send the locked session.update, await session.updated; sum true usage into the
/// store (checkpoint_usage at least every checkpoint_interval, and at the end); hang up within
/// a second of the cap or the user's quota (re-read every quota_refresh) and record end_call
/// with the reason; on a session.updated that changes a locked field, re-apply or hang up per
/// the profile and record a `lock_violation` event; session_expired or close 1001 ends it as
/// upstream_expired; a drop is re-joined with exponential back-off while the call lives, and a
/// re-join answered 404/410 ends it as gone (closed when the sideband had closed cleanly).
/// Thread safety: start(), wake() and stop() from any thread but the loops'; the loops must
/// each be run by one thread and keep running until stop() returns.
class Supervisor {
public:
    Supervisor(std::vector<boost::asio::io_context*> loops, SupervisorDeps deps,
               SupervisorOptions options);
    /// Stops (as stop()) if still running.
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    /// Spawns the lease loop (its first claim at once). Call once.
    void start();
    /// Runs the next claim now (a call was just relayed or attached).
    void wake();
    /// Stops supervising: every call writes its usage and releases its lease (so another
    /// instance takes it at once) without hanging up; blocks until all have or `grace` passed.
    /// Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    /// Calls supervised here now. Thread-safe.
    std::size_t active() const;

    struct State;  // shared with the call coroutines

private:
    std::shared_ptr<State> state_;
};

}  // namespace voicegate::supervisor
