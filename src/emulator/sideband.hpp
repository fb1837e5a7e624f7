#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "emulator/options.hpp"
#include "emulator/registry.hpp"
#include "emulator/validate.hpp"
#include "http/message.hpp"
#include "http/websocket.hpp"

// The live side of the emulator's calls (SPEC §8): the sideband WebSockets of
// `GET /v1/realtime?call_id=`, the calls' sessions (session.update from either side), the
// scripted conversation, the duration cap, and how a call ends (hang-up, the phone leaving, the
// cap). Internal to emulator/ (emulator.cpp mounts it).

namespace voicegate::emulator {

/// Counters of the sidebands (GET /_emulator/stats).
struct SidebandStats {
    std::uint64_t open = 0;            // sidebands connected now
    std::uint64_t opened = 0;          // sidebands accepted since start
    std::uint64_t events_sent = 0;     // server events handed to sidebands
    std::uint64_t responses_sent = 0;  // response.done events handed to sidebands
    std::uint64_t refused = 0;         // joins refused by the sideband-refuse-rate fault
    std::uint64_t dropped = 0;         // sidebands cut by the sideband-drop-after-ms fault
};

/// How a call ended, which decides what its sidebands see.
enum class CallEnd {
    hangup,   // POST /v1/realtime/calls/{id}/hangup: close 1000
    left,     // the phone left (control route): close 1000
    expired,  // the cap: `error` session_expired, then close 1001
};

class Sideband;

/// The calls' live side. Thread-safe: every method may be called from any loop.
class SidebandHub {
public:
    /// `calls` and `clock` must outlive the hub; so must the hub every sideband it runs.
    SidebandHub(CallRegistry& calls, SidebandSettings settings, const Clock& clock);
    ~SidebandHub();
    SidebandHub(const SidebandHub&) = delete;
    SidebandHub& operator=(const SidebandHub&) = delete;

    /// The answer to an authenticated sideband join for `call_id`: 404 `call_id_not_found`
    /// unless the call is live, then 503 if `refuse` (the sideband-refuse-rate fault drew it),
    /// else Action::upgrade running the sideband with `faults`' delay and drop.
    http::Response join(const std::string& call_id, const FaultSettings& faults, bool refuse);

    /// The control routes under /_emulator/calls/{call_id}: GET (the call's state: live,
    /// ended_by, sidebands, turns, session), POST .../session.update (a JSON session object,
    /// merged as the phone's data channel would), POST .../leave (the phone leaves), POST
    /// .../turn (one scripted turn now). 404 for an unknown call, and for an ended one but GET.
    http::Response control(const http::Request& req);

    /// Ends the call: it is marked hung up and its sidebands are closed as `how` says. False if
    /// the call is unknown (an ended call is fine).
    bool end_call(std::string_view call_id, CallEnd how);

    /// Merges `update` into the call's session and sends `session.updated` (the full effective
    /// session) to its sidebands; returns that session, or the error (404 for an unknown or
    /// ended call, 400 for a refused update).
    ApiResult<boost::json::object> update_session(std::string_view call_id,
                                                  const boost::json::value& update);

    /// Plays one scripted conversation turn to the call's sidebands; false if the call is not
    /// live.
    bool play_turn(std::string_view call_id);

    /// The effective session of a call record (`id` from the call id, `expires_at` set). Pure.
    static boost::json::object effective(std::string_view call_id, const CallRecord& call);

    SidebandStats stats() const;

private:
    friend class Sideband;
    struct Live;
    boost::asio::awaitable<void> run(std::shared_ptr<http::WebSocket> ws, std::string call_id,
                                     FaultSettings faults);
    void on_client_event(const std::string& call_id, Sideband& from, const std::string& text);
    bool live_locked(std::string_view call_id) const;
    http::Response call_state(const std::string& call_id) const;
    // GET /_emulator/calls: every remembered call, oldest first.
    http::Response list_calls() const;
    bool attach(const std::string& call_id, const std::shared_ptr<Sideband>& sideband);
    void detach(const std::string& call_id, const Sideband* sideband);
    void ensure_driver(const std::string& call_id, const boost::asio::any_io_executor& ex);
    boost::asio::awaitable<void> watch(std::shared_ptr<Sideband> sideband, std::string call_id,
                                       std::int64_t ends_at_ms, std::int64_t drop_after_ms,
                                       std::shared_ptr<boost::asio::steady_timer> timer);
    boost::asio::awaitable<void> drive(std::string call_id,
                                       std::shared_ptr<boost::asio::steady_timer> timer);
    bool turn_or_stop(const std::string& call_id);
    void play_turn_locked(Live& live);

    CallRegistry& calls_;
    const SidebandSettings settings_;
    const Clock& clock_;
    mutable std::mutex mutex_;  // guards live_; taken before the registry's own lock
    std::unordered_map<std::string, std::unique_ptr<Live>> live_;
    std::atomic<std::uint64_t> open_{0};
    std::atomic<std::uint64_t> opened_{0};
    std::atomic<std::uint64_t> events_sent_{0};
    std::atomic<std::uint64_t> responses_sent_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> refused_{0};
};

}  // namespace voicegate::emulator
