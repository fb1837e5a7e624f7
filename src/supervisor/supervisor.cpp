#include "supervisor/supervisor.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "core/log_throttle.hpp"
#include "supervisor/call_run.hpp"

namespace voicegate::supervisor {
namespace asio = boost::asio;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

struct Supervisor::State : std::enable_shared_from_this<Supervisor::State> {
    State(std::vector<asio::io_context*> l, SupervisorDeps d, SupervisorOptions o)
        : loops(std::move(l)),
          deps(std::move(d)),
          options(std::move(o)),
          lease_timer(loops.front()->get_executor()) {}

    std::vector<asio::io_context*> loops;
    const SupervisorDeps deps;
    const SupervisorOptions options;
    asio::steady_timer lease_timer;  // on the first loop
    LogThrottle log_throttle{std::chrono::seconds(10)};
    std::int64_t last_renewed_ms = 0;  // lease loop only

    mutable std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, std::shared_ptr<CallRun>> calls;         // by session id
    std::map<std::string, std::shared_ptr<const CallLock>> locks;  // see lock_for()
    std::size_t next_loop = 0;
    bool stopping = false;
    bool lease_loop_running = false;

    bool is_stopping() const {
        std::lock_guard lock(mu);
        return stopping;
    }

    void stop_call(const std::shared_ptr<CallRun>& run, CallRun::Stop why) {
        asio::post(run->executor(), [run, why] { run->request_stop(why); });
    }

    // Starts supervising `call` unless it already is supervised here; false when stopping.
    bool start_call(store::SupervisedCall call) {
        const Provider* provider = call.call_id.empty() ? nullptr : deps.provider(call);
        if (provider == nullptr) {
            // Claimed again every round until its lease is given up: logged at most every 10 s.
            if (log_throttle.admit()) {
                spdlog::warn("supervisor: session {}: not supervisable here ({})", call.session_id,
                             call.call_id.empty() ? "no call id" : "no provider for its model");
            }
            return true;
        }
        auto call_lock = lock_for(*provider, call);
        std::shared_ptr<CallRun> run;
        {
            std::lock_guard lock(mu);
            if (stopping) {
                return false;
            }
            if (calls.contains(call.session_id)) {
                return true;
            }
            auto& loop = *loops[next_loop++ % loops.size()];
            run = std::make_shared<CallRun>(loop.get_executor(), deps, options, call, *provider,
                                            std::move(call_lock));
            calls.emplace(call.session_id, run);
        }
        asio::co_spawn(run->executor(), run->run(),
                       [self = shared_from_this(), run](const std::exception_ptr& e) {
                           if (e) {
                               try {
                                   std::rethrow_exception(e);
                               } catch (const std::exception& ex) {
                                   spdlog::error("supervisor: session {}: unexpected: {}",
                                                 run->session_id(), ex.what());
                               }
                           }
                           self->finished(run);
                       });
        return true;
    }

    // The locks of a call, built once per provider, profile and model (a profile's instructions
    // may be 16 KiB: not a copy per call).
    std::shared_ptr<const CallLock> lock_for(const Provider& provider,
                                             const store::SupervisedCall& call) {
        std::string key(provider.protocol->name());
        key.append(1, '\0').append(call.profile).append(1, '\0').append(call.model);
        {
            std::lock_guard lock(mu);
            if (auto it = locks.find(key); it != locks.end()) {
                return it->second;
            }
        }
        auto made = make_call_lock(*provider.protocol, deps.policy(call), call.model);
        std::lock_guard lock(mu);
        return locks.emplace(key, std::move(made)).first->second;
    }

    void finished(const std::shared_ptr<CallRun>& run) {
        std::lock_guard lock(mu);
        auto it = calls.find(run->session_id());
        if (it != calls.end() && it->second == run) {
            calls.erase(it);
        }
        cv.notify_all();
    }

    std::vector<std::shared_ptr<CallRun>> snapshot() const {
        std::lock_guard lock(mu);
        std::vector<std::shared_ptr<CallRun>> out;
        out.reserve(calls.size());
        for (const auto& [id, run] : calls) {
            out.push_back(run);
        }
        return out;
    }

    store::LeaseClaim lease_claim() const {
        store::LeaseClaim c;
        c.instance_id = options.instance_id;
        c.now_ms = deps.clock.now_ms();
        c.lease_ms = options.lease.count();
        c.limit = options.claim_limit;
        return c;
    }

    asio::awaitable<void> claim_round();
    asio::awaitable<void> renew_round();
    asio::awaitable<void> lease_loop();
};

asio::awaitable<void> Supervisor::State::claim_round() {
    auto claim = lease_claim();
    auto claimed = co_await deps.store.claim_calls(std::move(claim));
    if (!claimed) {
        if (deps.metrics != nullptr) {
            deps.metrics->store_error();
        }
        if (log_throttle.admit()) {
            spdlog::warn("supervisor: cannot claim calls: {}", claimed.error().public_message());
        }
        co_return;
    }
    for (auto& call : *claimed) {
        const auto id = call.session_id;
        if (!start_call(std::move(call))) {
            // Stopping: let another instance have it at once.
            (void)co_await deps.store.release_lease(id, options.instance_id);
        }
    }
}

asio::awaitable<void> Supervisor::State::renew_round() {
    const auto runs = snapshot();
    const auto claim = lease_claim();
    if (runs.empty()) {
        last_renewed_ms = claim.now_ms;
        co_return;
    }
    std::vector<std::string> ids;
    ids.reserve(runs.size());
    for (const auto& r : runs) {
        ids.push_back(r->session_id());
    }
    auto held = co_await deps.store.renew_leases(claim, ids);
    if (held) {
        last_renewed_ms = claim.now_ms;
        const std::set<std::string> kept(held->begin(), held->end());
        for (const auto& r : runs) {
            if (!kept.contains(r->session_id())) {
                spdlog::info("supervisor: session {}: lease lost", r->session_id());
                stop_call(r, CallRun::Stop::lease_lost);
            }
        }
        co_return;
    }
    if (deps.metrics != nullptr) {
        deps.metrics->store_error();
    }
    // Not renewed: before the leases can run out (and another instance take the calls),
    // this one lets go of them, so no call is ever supervised twice at once.
    const auto margin =
        std::max(options.lease - 2 * options.lease_interval, options.lease_interval);
    if (claim.now_ms - last_renewed_ms >= margin.count()) {
        spdlog::error("supervisor: leases not renewed for {} ms: stopping {} calls here",
                      claim.now_ms - last_renewed_ms, runs.size());
        for (const auto& r : runs) {
            stop_call(r, CallRun::Stop::lease_lost);
        }
    } else if (log_throttle.admit()) {
        spdlog::warn("supervisor: cannot renew leases: {}", held.error().public_message());
    }
}

asio::awaitable<void> Supervisor::State::lease_loop() {
    last_renewed_ms = deps.clock.now_ms();
    while (!is_stopping()) {
        co_await claim_round();
        if (is_stopping()) {
            break;
        }
        co_await renew_round();
        if (is_stopping()) {
            break;
        }
        lease_timer.expires_after(options.lease_interval);
        (void)co_await lease_timer.async_wait(kUseTuple);
    }
}

Supervisor::Supervisor(std::vector<asio::io_context*> loops, SupervisorDeps deps,
                       SupervisorOptions options) {
    if (loops.empty()) {
        throw std::invalid_argument("Supervisor needs at least one event loop");
    }
    if (options.instance_id.empty()) {
        throw std::invalid_argument("Supervisor needs an instance id");
    }
    state_ = std::make_shared<State>(std::move(loops), std::move(deps), std::move(options));
}

Supervisor::~Supervisor() {
    stop();
}

void Supervisor::start() {
    {
        std::lock_guard lock(state_->mu);
        if (state_->lease_loop_running || state_->stopping) {
            return;
        }
        state_->lease_loop_running = true;
    }
    auto st = state_;
    asio::co_spawn(st->lease_timer.get_executor(), st->lease_loop(),
                   [st](const std::exception_ptr& e) {
                       if (e) {
                           spdlog::error("supervisor: the lease loop ended unexpectedly");
                       }
                       std::lock_guard lock(st->mu);
                       st->lease_loop_running = false;
                       st->cv.notify_all();
                   });
}

void Supervisor::wake() {
    auto st = state_;
    asio::post(st->lease_timer.get_executor(), [st] { st->lease_timer.cancel(); });
}

void Supervisor::stop(std::chrono::milliseconds grace) {
    auto st = state_;
    {
        std::lock_guard lock(st->mu);
        if (st->stopping && st->calls.empty() && !st->lease_loop_running) {
            return;
        }
        st->stopping = true;
    }
    asio::post(st->lease_timer.get_executor(), [st] { st->lease_timer.cancel(); });
    for (const auto& run : st->snapshot()) {
        st->stop_call(run, CallRun::Stop::shutdown);
    }
    std::unique_lock lock(st->mu);
    if (!st->cv.wait_for(lock, grace,
                         [&] { return st->calls.empty() && !st->lease_loop_running; })) {
        spdlog::warn("supervisor: {} calls still stopping after {} ms", st->calls.size(),
                     grace.count());
    }
}

std::size_t Supervisor::active() const {
    std::lock_guard lock(state_->mu);
    return state_->calls.size();
}

}  // namespace voicegate::supervisor
