#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "core/log_throttle.hpp"
#include "supervisor/deadline.hpp"
#include "supervisor/options.hpp"
#include "supervisor/usage.hpp"

namespace voicegate::supervisor {

/// The locks of a call: the locked fields, the provider's message that sets them, and what a
/// violation brings. Immutable; shared by the calls of one provider, profile and model.
struct CallLock {
    boost::json::object locked;
    std::string message;
    OnViolation on_violation = OnViolation::reapply;
};

/// Builds the locks of `policy` for `model` in `protocol`'s terms. Pure.
std::shared_ptr<const CallLock> make_call_lock(const CallProtocol& protocol,
                                               const CallPolicy& policy, const std::string& model);

/// The supervision of one call (Supervisor's per-call coroutine): a connection loop (join,
/// lock, read events, re-join) and a tick loop (deadlines, quota re-reads, checkpoints, the
/// drain after a hang-up) side by side on one executor, then the record of how it ended.
/// Not thread-safe: everything runs on its executor (request_stop() included: post it there).
class CallRun : public std::enable_shared_from_this<CallRun> {
public:
    enum class Stop { none, lease_lost, shutdown };

    /// `deps` and `options` are borrowed from the supervisor and outlive the run.
    CallRun(const boost::asio::any_io_executor& executor, const SupervisorDeps& deps,
            const SupervisorOptions& options, store::SupervisedCall call, const Provider& provider,
            std::shared_ptr<const CallLock> lock);

    /// Supervises the call until it ends or is stopped.
    boost::asio::awaitable<void> run();
    /// Stops supervising without ending the call (lease lost: no writes; shutdown: last
    /// checkpoint and the lease released). From the executor.
    void request_stop(Stop why);
    const boost::asio::any_io_executor& executor() const { return executor_; }
    const std::string& session_id() const { return call_.session_id; }

private:
    enum class ReadEnd { dropped, closed, expired, stopping };

    boost::asio::awaitable<void> connection_loop();
    boost::asio::awaitable<ReadEnd> read_loop();
    boost::asio::awaitable<void> on_event(const SidebandEvent& event);
    boost::asio::awaitable<void> on_session(const boost::json::object& session);
    boost::asio::awaitable<void> tick_loop();
    boost::asio::awaitable<void> tick();
    boost::asio::awaitable<void> hang_up(store::CallEnd reason);
    boost::asio::awaitable<void> read_quota();
    boost::asio::awaitable<void> checkpoint();
    boost::asio::awaitable<void> record_end();
    boost::asio::awaitable<bool> pause(std::chrono::milliseconds duration);
    /// Decides how the call ended (the first decision holds) and winds the loops down.
    void conclude(store::CallEnd reason, bool hung_up);
    bool closing() const { return end_.has_value() || stop_ != Stop::none; }
    std::int64_t now_ms() const;
    void wake();

    boost::asio::any_io_executor executor_;
    const SupervisorDeps& deps_;
    const SupervisorOptions& options_;
    store::SupervisedCall call_;
    const Provider& provider_;
    std::shared_ptr<const CallLock> lock_;
    UsageAccumulator usage_;
    boost::asio::steady_timer tick_timer_;
    boost::asio::steady_timer backoff_timer_;
    // Shared: the tick loop holds it while it sends a close frame.
    std::shared_ptr<upstream::SidebandSocket> socket_;
    bool close_started_ = false;

    std::optional<store::CallEnd> end_;
    bool hung_up_ = false;
    std::int64_t ended_at_ms_ = 0;
    Stop stop_ = Stop::none;
    std::optional<store::CallEnd> pending_hangup_;  // asked of the tick loop
    std::int64_t drain_until_ms_ = 0;
    bool connection_done_ = false;

    std::int64_t hangup_retry_at_ms_ = 0;
    bool healthy_ = false;  // the last join got its session.updated
    std::uint64_t checkpointed_version_ = 0;
    LogThrottle log_throttle_{std::chrono::seconds(10)};
    std::optional<std::int64_t> quota_at_ms_;
    std::int64_t next_quota_read_ms_ = 0;
    std::int64_t next_checkpoint_ms_ = 0;
    bool awaiting_ack_ = false;
    std::int64_t ack_deadline_ms_ = 0;
    bool expired_seen_ = false;
};

}  // namespace voicegate::supervisor
