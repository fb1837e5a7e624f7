#include "supervisor/call_run.hpp"

#include <algorithm>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

namespace voicegate::supervisor {
namespace asio = boost::asio;
namespace json = boost::json;
using store::CallEnd;
using Kind = SidebandEvent::Kind;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::int64_t kHangupRetryMs = 1'000;
constexpr int kEndAttempts = 3;
constexpr std::int64_t kCloseWaitMs = 1'000;  // for the peer's answer to our close frame

const ModelPrice* price_of(const PriceTable* prices, const std::string& model) {
    if (prices == nullptr) {
        return nullptr;
    }
    auto it = prices->find(model);
    return it == prices->end() ? nullptr : &it->second;
}

// The stored names of store::CallEnd (the metrics' labels are the same names).
std::string_view end_name(CallEnd end) {
    return metrics::SupervisionMetrics::kEndReasons[static_cast<std::size_t>(end)];
}

std::string join_paths(const Violations& v) {
    std::string out;
    for (const auto& p : v) {
        out += out.empty() ? p : "," + p;
    }
    return out;
}

// Exponential back-off with jitter in [d/2, d]: calls dropped together do not re-join together.
std::chrono::milliseconds backoff(const SupervisorOptions& o, int failures) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    auto d = o.rejoin_base.count() << std::min(failures, 20);
    d = std::min<std::int64_t>(std::max<std::int64_t>(d, 1), o.rejoin_max.count());
    std::uniform_int_distribution<std::int64_t> pick(d / 2, d);
    return std::chrono::milliseconds(pick(rng));
}

}  // namespace

std::shared_ptr<const CallLock> make_call_lock(const CallProtocol& protocol,
                                               const CallPolicy& policy, const std::string& model) {
    auto lock = std::make_shared<CallLock>();
    lock->locked = locked_fields(policy.profile_fields, policy.allow_override, model);
    lock->message = protocol.lock_message(lock->locked);
    lock->on_violation = policy.on_violation;
    return lock;
}

CallRun::CallRun(const asio::any_io_executor& executor, const SupervisorDeps& deps,
                 const SupervisorOptions& options, store::SupervisedCall call,
                 const Provider& provider, std::shared_ptr<const CallLock> lock)
    : executor_(executor),
      deps_(deps),
      options_(options),
      call_(std::move(call)),
      provider_(provider),
      lock_(std::move(lock)),
      usage_(call_.usage, price_of(deps.prices, call_.model)),
      tick_timer_(executor),
      backoff_timer_(executor) {}

std::int64_t CallRun::now_ms() const {
    return deps_.clock.now_ms();
}

void CallRun::wake() {
    tick_timer_.cancel();
}

asio::awaitable<void> CallRun::run() {
    using namespace asio::experimental::awaitable_operators;
    if (deps_.metrics != nullptr) {
        deps_.metrics->supervised(1);
    }
    spdlog::info("supervisor: supervising session {} (model {})", call_.session_id, call_.model);
    next_checkpoint_ms_ = now_ms() + options_.checkpoint_interval.count();
    co_await (connection_loop() && tick_loop());
    co_await record_end();
    if (deps_.metrics != nullptr) {
        deps_.metrics->supervised(-1);
    }
}

void CallRun::request_stop(Stop why) {
    if (stop_ != Stop::none) {
        return;
    }
    stop_ = why;
    // A lost lease belongs to another instance now: let go at once. A shutdown closes politely
    // (tick()).
    if (socket_ && why == Stop::lease_lost) {
        socket_->abort();
    }
    drain_until_ms_ = now_ms();
    backoff_timer_.cancel();
    wake();
}

void CallRun::conclude(CallEnd reason, bool hung_up) {
    if (end_) {
        return;
    }
    end_ = reason;
    hung_up_ = hung_up;
    ended_at_ms_ = now_ms();
    // The last events (the usage of a cut-off response) may still come: read them a while.
    drain_until_ms_ = ended_at_ms_ + (socket_ ? options_.drain.count() : 0);
    backoff_timer_.cancel();
    wake();
}

asio::awaitable<bool> CallRun::pause(std::chrono::milliseconds duration) {
    backoff_timer_.expires_after(duration);
    (void)co_await backoff_timer_.async_wait(kUseTuple);
    co_return !closing();
}

// ---- the sideband ---------------------------------------------------------------------------

asio::awaitable<void> CallRun::connection_loop() {
    const upstream::SidebandEndpoint endpoint{
        provider_.base.origin,
        provider_.protocol->sideband_target(provider_.base.path, call_.call_id), provider_.api_key};
    int failures = 0;
    bool joined_before = false;
    bool clean_close = false;  // the last connection ended with a close frame
    while (!closing()) {
        auto joined = co_await provider_.connector->join(endpoint);
        if (closing()) {
            if (joined) {
                (*joined)->abort();
            }
            break;
        }
        if (!joined) {
            const auto& err = joined.error();
            if (deps_.metrics != nullptr) {
                deps_.metrics->join_failed(err.gone);
            }
            if (err.gone) {
                conclude(clean_close ? CallEnd::closed : CallEnd::gone, false);
                break;
            }
            if (log_throttle_.admit()) {
                spdlog::warn("supervisor: session {}: sideband join failed, retrying: {}",
                             call_.session_id, err.detail);
            }
            co_await pause(backoff(options_, failures++));
            continue;
        }
        if (joined_before && deps_.metrics != nullptr) {
            deps_.metrics->rejoin();
        }
        joined_before = true;
        socket_ = std::move(*joined);
        healthy_ = false;
        awaiting_ack_ = true;
        ack_deadline_ms_ = now_ms() + options_.ack_timeout.count();
        wake();
        // A failed write shows as the read's failure just after.
        (void)co_await socket_->write(lock_->message);
        const auto end = co_await read_loop();
        socket_.reset();
        awaiting_ack_ = false;
        if (end == ReadEnd::expired) {
            conclude(CallEnd::upstream_expired, false);
        }
        if (closing()) {
            break;
        }
        clean_close = end == ReadEnd::closed;
        if (healthy_) {
            failures = 0;
        }
        spdlog::info("supervisor: session {}: sideband {}, re-joining", call_.session_id,
                     clean_close ? "closed" : "dropped");
        co_await pause(backoff(options_, failures++));
    }
    connection_done_ = true;
    wake();
}

asio::awaitable<CallRun::ReadEnd> CallRun::read_loop() {
    for (;;) {
        auto msg = co_await socket_->read();
        switch (msg.kind) {
            case upstream::SidebandMessage::Kind::text: {
                const auto event = provider_.protocol->parse(msg.text);
                co_await on_event(event);
                continue;
            }
            case upstream::SidebandMessage::Kind::binary:
                if (deps_.metrics != nullptr) {
                    deps_.metrics->event(static_cast<std::size_t>(Kind::malformed));
                }
                continue;
            case upstream::SidebandMessage::Kind::closed:
                if (expired_seen_ || provider_.protocol->expiry_close(msg.close_code)) {
                    co_return ReadEnd::expired;
                }
                co_return ReadEnd::closed;
            case upstream::SidebandMessage::Kind::failed:
                if (expired_seen_) {
                    co_return ReadEnd::expired;
                }
                co_return closing() ? ReadEnd::stopping : ReadEnd::dropped;
        }
    }
}

asio::awaitable<void> CallRun::on_event(const SidebandEvent& event) {
    if (deps_.metrics != nullptr) {
        deps_.metrics->event(static_cast<std::size_t>(event.kind));
    }
    switch (event.kind) {
        case Kind::session_updated:
            co_await on_session(event.session);
            break;
        case Kind::usage:
        case Kind::transcription_usage:
            usage_.add(event);
            break;
        case Kind::expired:
            expired_seen_ = true;
            conclude(CallEnd::upstream_expired, false);
            break;
        case Kind::closed:
            usage_.add(event);  // its final totals, if it carries them
            conclude(CallEnd::closed, false);
            break;
        case Kind::error:
            spdlog::info("supervisor: session {}: upstream error event (code {})", call_.session_id,
                         event.error_code.empty() ? "none" : event.error_code);
            break;
        case Kind::malformed:
            if (log_throttle_.admit()) {
                spdlog::warn("supervisor: session {}: malformed sideband event ({}): {}",
                             call_.session_id, event.type.empty() ? "no type" : event.type,
                             event.problem);
            }
            break;
        case Kind::ignored:
            break;
    }
}

asio::awaitable<void> CallRun::on_session(const json::object& session) {
    const auto violations = provider_.protocol->violations(lock_->locked, session);
    if (awaiting_ack_) {
        // The answer to our own session.update: the locks are in place (or the upstream
        // normalises a field differently, which re-applying would not change).
        awaiting_ack_ = false;
        healthy_ = true;
        if (!violations.empty()) {
            spdlog::warn(
                "supervisor: session {}: after our session.update the upstream still "
                "differs on: {}",
                call_.session_id, join_paths(violations));
        }
        co_return;
    }
    if (violations.empty() || closing()) {
        co_return;
    }
    const bool hang = lock_->on_violation == OnViolation::hangup;
    const char* action = hang ? "hangup" : "reapply";
    spdlog::warn("supervisor: session {}: locked fields changed ({}), {}", call_.session_id,
                 join_paths(violations), action);
    if (deps_.metrics != nullptr) {
        deps_.metrics->violation(hang);
    }
    if (hang) {
        pending_hangup_ = CallEnd::lock_violation;
        wake();
    } else if (socket_) {
        awaiting_ack_ = true;
        ack_deadline_ms_ = now_ms() + options_.ack_timeout.count();
        (void)co_await socket_->write(lock_->message);
    }
    if (deps_.events) {
        json::array fields;
        for (const auto& v : violations) {
            fields.emplace_back(v);
        }
        store::Event e;
        e.at_ms = now_ms();
        e.type = "lock_violation";
        e.session_id = call_.session_id;
        e.user_id = call_.user_id;
        e.reason = action;
        e.detail = json::serialize(json::object{{"fields", std::move(fields)}, {"action", action}});
        auto written = co_await deps_.events(std::move(e));
        if (!written && deps_.metrics != nullptr) {
            deps_.metrics->store_error();
        }
    }
}

// ---- the clock --------------------------------------------------------------------------------

asio::awaitable<void> CallRun::tick_loop() {
    while (!connection_done_) {
        co_await tick();
        if (connection_done_) {
            break;
        }
        const auto now = now_ms();
        std::int64_t next = next_checkpoint_ms_;
        if (closing()) {
            // Only the drain is left; the connection loop's end wakes this.
            next = socket_ ? drain_until_ms_ : now + options_.checkpoint_interval.count();
        } else if (pending_hangup_) {
            next = std::min(next, hangup_retry_at_ms_);
        } else {
            if (options_.quota_ms_per_day > 0) {
                next = std::min(next, next_quota_read_ms_);
            }
            const auto deadline =
                earliest_deadline(cap_deadline(call_.started_at_ms, call_.cap_ms), quota_at_ms_);
            if (deadline) {
                next = std::min(next, deadline->at_ms);
            }
            if (awaiting_ack_) {
                next = std::min(next, ack_deadline_ms_);
            }
        }
        tick_timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(1, next - now)));
        (void)co_await tick_timer_.async_wait(kUseTuple);
    }
}

asio::awaitable<void> CallRun::tick() {
    auto now = now_ms();
    if (closing()) {
        backoff_timer_.cancel();
        if (socket_ && now >= drain_until_ms_) {
            if (close_started_ || stop_ == Stop::lease_lost) {
                socket_->abort();  // the peer did not answer the close frame in time
            } else {
                close_started_ = true;
                drain_until_ms_ = now + kCloseWaitMs;
                auto socket = socket_;  // the connection loop may drop socket_ meanwhile
                co_await socket->close();
            }
        }
        co_return;
    }
    if (options_.quota_ms_per_day > 0 && now >= next_quota_read_ms_) {
        co_await read_quota();
        now = now_ms();
    }
    if (!pending_hangup_) {
        const auto deadline =
            earliest_deadline(cap_deadline(call_.started_at_ms, call_.cap_ms), quota_at_ms_);
        if (deadline && now >= deadline->at_ms) {
            pending_hangup_ = deadline->reason;
        }
    }
    if (pending_hangup_ && now >= hangup_retry_at_ms_) {
        co_await hang_up(*pending_hangup_);
        co_return;
    }
    if (awaiting_ack_ && now >= ack_deadline_ms_) {
        awaiting_ack_ = false;
        spdlog::warn("supervisor: session {}: no session.updated within {} ms of our update",
                     call_.session_id, options_.ack_timeout.count());
    }
    if (now >= next_checkpoint_ms_) {
        next_checkpoint_ms_ = now + options_.checkpoint_interval.count();
        if (usage_.version() != checkpointed_version_) {
            co_await checkpoint();
        }
    }
}

asio::awaitable<void> CallRun::hang_up(CallEnd reason) {
    auto done = co_await provider_.hangup(call_.call_id, "supervisor-" + call_.session_id);
    if (!done) {
        hangup_retry_at_ms_ = now_ms() + kHangupRetryMs;
        spdlog::warn("supervisor: session {}: hang-up ({}) failed, retrying: {}", call_.session_id,
                     end_name(reason), done.error().public_message());
        co_return;
    }
    pending_hangup_.reset();
    spdlog::info("supervisor: session {}: hung up ({})", call_.session_id, end_name(reason));
    conclude(reason, true);
}

asio::awaitable<void> CallRun::read_quota() {
    const auto now = now_ms();
    next_quota_read_ms_ = now + options_.quota_refresh.count();
    auto minutes = co_await deps_.store.user_minutes(call_.user_id, now);
    if (!minutes) {
        if (deps_.metrics != nullptr) {
            deps_.metrics->store_error();
        }
        co_return;  // the last figure stands until a read succeeds
    }
    quota_at_ms_ = quota_deadline(now_ms(), options_.quota_ms_per_day, *minutes);
}

asio::awaitable<void> CallRun::checkpoint() {
    const auto version = usage_.version();
    // A named argument: GCC 12 destroys a coroutine's braced-init temporary argument twice.
    store::UsageCheckpoint point{call_.session_id, options_.instance_id, usage_.total(), now_ms()};
    auto written = co_await deps_.store.checkpoint_usage(std::move(point));
    if (written) {
        checkpointed_version_ = version;
    } else if (deps_.metrics != nullptr) {
        deps_.metrics->store_error();
    }
}

asio::awaitable<void> CallRun::record_end() {
    if (!end_) {
        if (stop_ == Stop::shutdown) {
            if (usage_.version() != checkpointed_version_) {
                co_await checkpoint();
            }
            (void)co_await deps_.store.release_lease(call_.session_id, options_.instance_id);
        }
        spdlog::info("supervisor: session {}: no longer supervised here ({})", call_.session_id,
                     stop_ == Stop::shutdown ? "shutdown" : "lease lost");
        co_return;
    }
    const store::CallEnded ended{call_.session_id, options_.instance_id, *end_, usage_.total(),
                                 ended_at_ms_};
    for (int attempt = 1;; ++attempt) {
        auto written = co_await deps_.store.end_call(ended);
        if (written) {
            break;
        }
        if (deps_.metrics != nullptr) {
            deps_.metrics->store_error();
        }
        if (attempt == kEndAttempts || stop_ != Stop::none) {
            spdlog::error("supervisor: session {}: cannot record the end ({}): {}",
                          call_.session_id, end_name(*end_), written.error().public_message());
            break;
        }
        backoff_timer_.expires_after(std::chrono::seconds(1));
        (void)co_await backoff_timer_.async_wait(kUseTuple);
    }
    if (deps_.metrics != nullptr) {
        deps_.metrics->ended(static_cast<std::size_t>(*end_), hung_up_);
    }
    spdlog::info("supervisor: session {} ended ({}), {} responses, ${:.6f}", call_.session_id,
                 end_name(*end_), usage_.total().responses, usage_.total().cost_usd);
}

}  // namespace voicegate::supervisor
