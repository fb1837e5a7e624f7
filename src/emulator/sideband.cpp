#include "emulator/sideband.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "emulator/answers.hpp"
#include "emulator/realtime_events.hpp"

namespace voicegate::emulator {
namespace asio = boost::asio;
namespace json = boost::json;
using detail::api_error;
using detail::error_answer;
using detail::invalid_method;
using detail::invalid_url;
using detail::json_answer;
using std::chrono::milliseconds;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kControlPrefix = "/_emulator/calls/";

ApiError call_not_found() {
    return api_error(404, "No session found for the provided call_id", "invalid_request_error",
                     "call_id_not_found");
}

}  // namespace

// One sideband connection: what the hub sends goes through here (counted, and held back by the
// sideband-delay-ms fault, in order, closes included).
class Sideband : public std::enable_shared_from_this<Sideband> {
public:
    Sideband(SidebandHub& hub, std::shared_ptr<http::WebSocket> ws, milliseconds delay)
        : hub_(hub), ws_(std::move(ws)), delay_(delay), timer_(ws_->executor()) {}

    // Any thread.
    void send(const json::object& event) {
        hub_.events_sent_.fetch_add(1);
        const auto* type = event.if_contains("type");
        if (type != nullptr && *type == "response.done") {
            hub_.responses_sent_.fetch_add(1);
        }
        push(Item{json::serialize(event), false, 0, {}});
    }

    // Any thread: a close frame after what was sent before.
    void close(std::uint16_t code, std::string reason) {
        push(Item{std::move(reason), true, code, {}});
    }

    void drop() { ws_->drop(); }

    asio::any_io_executor executor() const { return ws_->executor(); }

private:
    struct Item {
        std::string text;  // the event, or the close reason
        bool close = false;
        std::uint16_t code = 0;
        std::chrono::steady_clock::time_point due{};
    };

    void deliver(Item& item) {
        if (item.close) {
            ws_->close(item.code, std::move(item.text));
        } else {
            ws_->send(std::move(item.text));
        }
    }

    void push(Item item) {
        if (delay_.count() == 0) {
            deliver(item);  // the WebSocket keeps the order itself
            return;
        }
        item.due = std::chrono::steady_clock::now() + delay_;
        asio::post(ws_->executor(), [self = shared_from_this(), item = std::move(item)]() mutable {
            self->queue_.push_back(std::move(item));
            if (!self->pumping_) {
                self->pumping_ = true;
                asio::co_spawn(self->ws_->executor(), pump(self), asio::detached);
            }
        });
    }

    static asio::awaitable<void> pump(std::shared_ptr<Sideband> self) {
        while (!self->queue_.empty()) {
            self->timer_.expires_at(self->queue_.front().due);
            co_await self->timer_.async_wait(kUseTuple);
            Item item = std::move(self->queue_.front());
            self->queue_.pop_front();
            self->deliver(item);
        }
        self->pumping_ = false;
    }

    SidebandHub& hub_;
    std::shared_ptr<http::WebSocket> ws_;
    const milliseconds delay_;
    asio::steady_timer timer_;  // on the connection's loop
    std::deque<Item> queue_;    // on the connection's loop
    bool pumping_ = false;      // on the connection's loop
};

struct SidebandHub::Live {
    std::vector<std::shared_ptr<Sideband>> sidebands;
    bool driver_running = false;
    std::shared_ptr<asio::steady_timer> driver_timer;
    int turns = 0;
};

SidebandHub::SidebandHub(CallRegistry& calls, SidebandSettings settings, const Clock& clock)
    : calls_(calls), settings_(settings), clock_(clock) {}

SidebandHub::~SidebandHub() = default;

json::object SidebandHub::effective(std::string_view call_id, const CallRecord& call) {
    json::object request;
    if (!call.session_request.empty()) {
        boost::system::error_code ec;
        auto v = json::parse(call.session_request, ec);
        if (!ec && v.is_object()) {
            request = std::move(v.get_object());
        }
    }
    if (!request.contains("type")) {
        request["type"] = "realtime";
        request["model"] = call.model.empty() ? std::string(kDefaultModel) : call.model;
    }
    json::object session = effective_session(request, call_session_id(call_id));
    session["expires_at"] = call.expires_at;
    return session;
}

bool SidebandHub::live_locked(std::string_view call_id) const {
    const auto call = calls_.find(call_id);
    return call && !call->hung_up && (call->ends_at_ms == 0 || clock_.now_ms() < call->ends_at_ms);
}

http::Response SidebandHub::join(const std::string& call_id, const FaultSettings& faults,
                                 bool refuse) {
    {
        std::lock_guard lock(mutex_);
        if (!live_locked(call_id)) {
            return error_answer(call_not_found());
        }
    }
    if (refuse) {
        refused_.fetch_add(1);
        auto r = error_answer(api_error(503, "The server is overloaded. Please try again later.",
                                        "server_error", "service_unavailable"));
        r.log_error = "emulated_sideband_refused";
        return r;
    }
    http::Response r;
    r.status = 101;
    r.content_type.clear();
    r.action = http::Action::upgrade;
    r.websocket = [this, call_id, faults](std::shared_ptr<http::WebSocket> ws) {
        return run(std::move(ws), call_id, faults);
    };
    return r;
}

asio::awaitable<void> SidebandHub::run(std::shared_ptr<http::WebSocket> ws, std::string call_id,
                                       FaultSettings faults) {
    auto sideband = std::make_shared<Sideband>(*this, ws, milliseconds(faults.sideband_delay_ms));
    if (!attach(call_id, sideband)) {
        ws->close(1000, "");  // the call ended between the check and the upgrade
        co_return;
    }
    opened_.fetch_add(1);
    open_.fetch_add(1);
    std::int64_t ends_at_ms = 0;
    if (const auto call = calls_.find(call_id)) {
        ends_at_ms = call->ends_at_ms;
        if (settings_.emit_session_created) {
            sideband->send(session_event("session.created", effective(call_id, *call)));
        }
    }
    auto watchdog = std::make_shared<asio::steady_timer>(ws->executor());
    asio::co_spawn(ws->executor(),
                   watch(sideband, call_id, ends_at_ms, faults.sideband_drop_after_ms, watchdog),
                   asio::detached);
    bool spoke = false;
    while (const auto text = co_await ws->receive()) {
        on_client_event(call_id, *sideband, *text);
        if (!spoke) {
            spoke = true;  // the scripted conversation starts once the client has spoken
            ensure_driver(call_id, ws->executor());
        }
    }
    watchdog->cancel();
    detach(call_id, sideband.get());
    open_.fetch_sub(1);
}

asio::awaitable<void> SidebandHub::watch(std::shared_ptr<Sideband> sideband, std::string call_id,
                                         std::int64_t ends_at_ms, std::int64_t drop_after_ms,
                                         std::shared_ptr<asio::steady_timer> timer) {
    const std::int64_t to_cap =
        ends_at_ms > 0 ? std::max<std::int64_t>(0, ends_at_ms - clock_.now_ms()) : -1;
    const bool drop_first = drop_after_ms > 0 && (to_cap < 0 || drop_after_ms < to_cap);
    if (!drop_first && to_cap < 0) {
        co_return;
    }
    timer->expires_after(milliseconds(drop_first ? drop_after_ms : to_cap));
    const auto [ec] = co_await timer->async_wait(kUseTuple);
    if (ec) {
        co_return;  // the sideband ended first
    }
    if (drop_first) {
        dropped_.fetch_add(1);
        sideband->drop();
        co_return;
    }
    end_call(call_id, CallEnd::expired);
}

void SidebandHub::on_client_event(const std::string& call_id, Sideband& from,
                                  const std::string& text) {
    boost::system::error_code ec;
    const auto v = json::parse(text, ec);
    const json::object* event = !ec && v.is_object() ? &v.get_object() : nullptr;
    const json::value* type = event != nullptr ? event->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) {
        from.send(error_event(api_error(400,
                                        "The event could not be parsed: expected a JSON object "
                                        "with a string 'type'.",
                                        "invalid_request_error", "invalid_event")));
        return;
    }
    const json::value* id = event->if_contains("event_id");
    const std::string event_id =
        id != nullptr && id->is_string() ? std::string(id->get_string()) : std::string();
    if (*type == "session.update") {
        const json::value* session = event->if_contains("session");
        if (session == nullptr) {
            from.send(error_event(api_error(400, "Missing required parameter: 'session'.",
                                            "invalid_request_error", "missing_required_parameter",
                                            "session"),
                                  event_id));
            return;
        }
        if (auto updated = update_session(call_id, *session); !updated) {
            from.send(error_event(updated.error(), event_id));
        }
    } else if (*type == "response.create") {
        play_turn(call_id);  // a scripted response stands for the one asked for
    }
    // Every other client event is accepted silently.
}

bool SidebandHub::attach(const std::string& call_id, const std::shared_ptr<Sideband>& sideband) {
    std::lock_guard lock(mutex_);
    if (!live_locked(call_id)) {
        return false;
    }
    auto& live = live_[call_id];
    if (!live) {
        live = std::make_unique<Live>();
    }
    live->sidebands.push_back(sideband);
    return true;
}

void SidebandHub::detach(const std::string& call_id, const Sideband* sideband) {
    std::lock_guard lock(mutex_);
    const auto it = live_.find(call_id);
    if (it == live_.end()) {
        return;
    }
    auto& list = it->second->sidebands;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const auto& s) { return s.get() == sideband; }),
               list.end());
    if (!list.empty()) {
        return;
    }
    if (auto timer = it->second->driver_timer) {
        asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }
    if (!it->second->driver_running) {
        live_.erase(it);
    }
}

void SidebandHub::ensure_driver(const std::string& call_id, const asio::any_io_executor& ex) {
    if (settings_.turn_interval_ms <= 0) {
        return;
    }
    std::lock_guard lock(mutex_);
    const auto it = live_.find(call_id);
    if (it == live_.end() || it->second->driver_running) {
        return;
    }
    it->second->driver_running = true;
    it->second->driver_timer = std::make_shared<asio::steady_timer>(ex);
    asio::co_spawn(ex, drive(call_id, it->second->driver_timer), asio::detached);
}

asio::awaitable<void> SidebandHub::drive(std::string call_id,
                                         std::shared_ptr<asio::steady_timer> timer) {
    do {
        timer->expires_after(milliseconds(settings_.turn_interval_ms));
        co_await timer->async_wait(kUseTuple);
    } while (turn_or_stop(call_id));
}

bool SidebandHub::turn_or_stop(const std::string& call_id) {
    std::lock_guard lock(mutex_);
    const auto it = live_.find(call_id);
    if (it == live_.end()) {
        return false;
    }
    Live& live = *it->second;
    if (live.sidebands.empty() || !live_locked(call_id)) {
        live.driver_running = false;
        live.driver_timer.reset();
        if (live.sidebands.empty()) {
            live_.erase(it);
        }
        return false;
    }
    play_turn_locked(live);
    return true;
}

void SidebandHub::play_turn_locked(Live& live) {
    ++live.turns;
    for (const auto& event : scripted_turn(settings_, live.turns)) {
        for (const auto& sideband : live.sidebands) {
            sideband->send(event);
        }
    }
}

bool SidebandHub::play_turn(std::string_view call_id) {
    std::lock_guard lock(mutex_);
    if (!live_locked(call_id)) {
        return false;
    }
    if (const auto it = live_.find(std::string(call_id)); it != live_.end()) {
        play_turn_locked(*it->second);
    }
    return true;
}

bool SidebandHub::end_call(std::string_view call_id, CallEnd how) {
    std::vector<std::shared_ptr<Sideband>> sidebands;
    std::shared_ptr<asio::steady_timer> driver;
    {
        std::lock_guard lock(mutex_);
        const bool known = calls_.modify(call_id, [how](CallRecord& call) {
            if (!call.hung_up) {
                call.hung_up = true;
                call.ended_by = how == CallEnd::hangup ? "hangup"
                                : how == CallEnd::left ? "left"
                                                       : "expired";
            }
        });
        if (!known) {
            return false;
        }
        if (const auto it = live_.find(std::string(call_id)); it != live_.end()) {
            sidebands = it->second->sidebands;
            driver = it->second->driver_timer;
        }
    }
    const ApiError expired = session_expired_error();
    for (const auto& sideband : sidebands) {
        if (how == CallEnd::expired) {
            sideband->send(error_event(expired));
            sideband->close(1001, expired.message);
        } else {
            sideband->close(1000, "");
        }
    }
    if (driver) {
        asio::post(driver->get_executor(), [driver] { driver->cancel(); });
    }
    return true;
}

ApiResult<json::object> SidebandHub::update_session(std::string_view call_id,
                                                    const json::value& update) {
    std::lock_guard lock(mutex_);
    if (!live_locked(call_id)) {
        return call_not_found();
    }
    std::optional<ApiResult<json::object>> result;
    calls_.modify(call_id, [&](CallRecord& call) {
        json::object current = effective(call_id, call);  // for its type and model
        json::object request{{"type", current.at("type")}};
        if (!call.session_request.empty()) {
            boost::system::error_code ec;
            auto v = json::parse(call.session_request, ec);
            if (!ec && v.is_object()) {
                request = std::move(v.get_object());
            }
        }
        if (!request.contains("model") && current.contains("model")) {
            request["model"] = current.at("model");
        }
        auto merged = merge_session_update(request, update);
        if (!merged) {
            result = merged.error();
            return;
        }
        call.session_request = json::serialize(*merged);
        result = effective(call_id, call);
    });
    if (!result) {
        return call_not_found();  // forgotten meanwhile
    }
    if (*result) {
        if (const auto it = live_.find(std::string(call_id)); it != live_.end()) {
            const json::object event = session_event("session.updated", result->value());
            for (const auto& sideband : it->second->sidebands) {
                sideband->send(event);
            }
        }
    }
    return *result;
}

http::Response SidebandHub::control(const http::Request& req) {
    if (req.path.size() + 1 == kControlPrefix.size()) {  // "/_emulator/calls"
        return req.method == "GET" ? list_calls() : error_answer(invalid_method(req));
    }
    const std::string_view rest = std::string_view(req.path).substr(kControlPrefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos && !rest.empty()) {
        return req.method == "GET" ? call_state(std::string(rest))
                                   : error_answer(invalid_method(req));
    }
    if (slash == std::string_view::npos || slash == 0) {
        return error_answer(invalid_url(req));
    }
    const std::string call_id(rest.substr(0, slash));
    const std::string_view action = rest.substr(slash + 1);
    if (action != "session.update" && action != "leave" && action != "turn") {
        return error_answer(invalid_url(req));
    }
    if (req.method != "POST") {
        return error_answer(invalid_method(req));
    }
    if (action == "session.update") {
        boost::system::error_code ec;
        json::value body = json::parse(req.body, ec);
        if (ec || !body.is_object()) {
            return error_answer(api_error(400, "The body must be a JSON session object.",
                                          "invalid_request_error", "invalid_json"));
        }
        // A whole session.update event is fine too.
        if (const auto* s = body.get_object().if_contains("session");
            s != nullptr && body.get_object().if_contains("type") != nullptr &&
            body.get_object().at("type") == "session.update") {
            body = json::value(*s);
        }
        auto updated = update_session(call_id, body);
        return updated ? json_answer(200, *updated) : error_answer(updated.error());
    }
    {
        std::lock_guard lock(mutex_);
        if (!live_locked(call_id)) {
            return error_answer(call_not_found());
        }
    }
    if (action == "leave") {
        end_call(call_id, CallEnd::left);
        return json_answer(200, json::object{{"ended", true}});
    }
    return play_turn(call_id) ? json_answer(200, json::object{{"played", true}})
                              : error_answer(call_not_found());
}

http::Response SidebandHub::list_calls() const {
    std::lock_guard lock(mutex_);
    json::array calls;
    for (const auto& id : calls_.ids()) {
        const auto it = live_.find(id);
        calls.push_back(json::object{
            {"call_id", id},
            {"live", live_locked(id)},
            {"sidebands", it != live_.end() ? it->second->sidebands.size() : 0},
        });
    }
    return json_answer(200, json::object{{"calls", std::move(calls)}});
}

http::Response SidebandHub::call_state(const std::string& call_id) const {
    std::lock_guard lock(mutex_);
    const auto call = calls_.find(call_id);
    if (!call) {
        return error_answer(call_not_found());
    }
    const bool live = live_locked(call_id);
    std::string ended_by = call->ended_by;
    if (!live && ended_by.empty()) {
        ended_by = "expired";  // the cap passed with nobody listening
    }
    const auto it = live_.find(call_id);
    const bool listening = it != live_.end();
    return json_answer(
        200, json::object{
                 {"call_id", call_id},
                 {"live", live},
                 {"ended_by", ended_by.empty() ? json::value(nullptr) : json::value(ended_by)},
                 {"created_at", call->created_at},
                 {"expires_at", call->expires_at},
                 {"sidebands", listening ? it->second->sidebands.size() : 0},
                 {"turns", listening ? it->second->turns : 0},
                 {"session", effective(call_id, *call)},
             });
}

SidebandStats SidebandHub::stats() const {
    SidebandStats s;
    s.open = open_.load();
    s.opened = opened_.load();
    s.events_sent = events_sent_.load();
    s.responses_sent = responses_sent_.load();
    s.refused = refused_.load();
    s.dropped = dropped_.load();
    return s;
}

}  // namespace voicegate::emulator
