#include "emulator/emulator.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "core/text.hpp"
#include "emulator/answers.hpp"
#include "emulator/realtime_events.hpp"
#include "emulator/registry.hpp"
#include "emulator/sdp.hpp"
#include "emulator/sideband.hpp"
#include "emulator/validate.hpp"

namespace voicegate::emulator {
namespace asio = boost::asio;
namespace json = boost::json;

using detail::api_error;
using detail::beta_disabled;
using detail::error_answer;
using detail::incorrect_key;
using detail::invalid_method;
using detail::invalid_url;
using detail::json_answer;
using detail::missing_key;
using detail::quota_exceeded;
using detail::rate_limited;
using detail::server_error;

namespace {

// ---- routes ----

enum class Route : std::size_t { client_secrets, calls, hangup, sideband, beta, control, other };
constexpr std::array<std::string_view, 7> kRouteNames = {
    "client_secrets", "calls", "hangup", "sideband", "beta", "control", "other"};

enum class Fault : std::size_t { latency, error, rate_limit, quota, malformed, reset, hang, none };
constexpr std::array<std::string_view, 7> kFaultNames = {
    "latency", "error", "rate_limit", "quota", "malformed", "reset", "hang"};

constexpr std::string_view kCallsPrefix = "/v1/realtime/calls/";
constexpr std::string_view kHangupSuffix = "/hangup";

struct RouteMatch {
    Route route = Route::other;
    std::string call_id;  // for hangup
};

RouteMatch classify(std::string_view path, std::string_view method) {
    if (path == "/v1/realtime" && method == "GET") {
        return {Route::sideband, {}};
    }
    if (path == "/v1/realtime/client_secrets") {
        return {Route::client_secrets, {}};
    }
    if (path == "/v1/realtime/calls") {
        return {Route::calls, {}};
    }
    if (path.starts_with(kCallsPrefix) &&
        path.size() > kCallsPrefix.size() + kHangupSuffix.size() &&
        path.substr(path.size() - kHangupSuffix.size()) == kHangupSuffix) {
        const auto id = path.substr(kCallsPrefix.size(),
                                    path.size() - kCallsPrefix.size() - kHangupSuffix.size());
        if (id.find('/') == std::string_view::npos) {
            return {Route::hangup, std::string(id)};
        }
    }
    if (path == "/v1/realtime" || path == "/v1/realtime/sessions" ||
        path == "/v1/realtime/transcription_sessions") {
        return {Route::beta, {}};
    }
    if (path == "/_emulator" || path.starts_with("/_emulator/")) {
        return {Route::control, {}};
    }
    return {Route::other, {}};
}

// The bearer token of `req`, or "" if there is none.
std::string bearer(const http::Request& req) {
    const auto auth = req.header("authorization");
    if (!auth || auth->size() < 7 || to_lower(auth->substr(0, 7)) != "bearer ") {
        return {};
    }
    std::string_view token = auth->substr(7);
    while (!token.empty() && token.front() == ' ') {
        token.remove_prefix(1);
    }
    while (!token.empty() && token.back() == ' ') {
        token.remove_suffix(1);
    }
    return std::string(token);
}

// The media type of the Content-Type header, lowercase, without parameters.
std::string media_type(const http::Request& req) {
    const auto ct = req.header("content-type");
    if (!ct) {
        return {};
    }
    std::string_view t = ct->substr(0, ct->find(';'));
    while (!t.empty() && t.back() == ' ') {
        t.remove_suffix(1);
    }
    return to_lower(t);
}

void add_cors(http::Response& r) {
    r.set("access-control-allow-origin", "*");
    for (const auto& [name, value] : r.headers) {
        if (name == "access-control-expose-headers") {
            return;  // the route chose its own (calls: "Location, X-Request-Id", as OpenAI's)
        }
    }
    r.set("access-control-expose-headers",
          "location, x-request-id, openai-processing-ms, retry-after, retry-after-ms");
}

// The value of `name` in a query string (no percent-decoding: the ids asked for never need it).
std::string query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == name && eq != std::string_view::npos) {
            return std::string(pair.substr(eq + 1));
        }
        if (amp == std::string_view::npos) {
            break;
        }
        query.remove_prefix(amp + 1);
    }
    return {};
}

http::Response preflight(const http::Request& req) {
    http::Response r;
    r.status = 200;
    r.content_type.clear();
    r.set("access-control-allow-methods", "GET, POST, DELETE, OPTIONS");
    const auto asked = req.header("access-control-request-headers");
    r.set("access-control-allow-headers",
          asked && !asked->empty() ? std::string(*asked)
                                   : std::string("authorization, content-type, openai-beta, "
                                                 "openai-organization, openai-project"));
    r.set("access-control-max-age", "86400");
    return r;
}

}  // namespace

// ---- state ----

struct Emulator::Impl {
    Impl(EmulatorOptions o, const Clock& c)
        : options(std::move(o)),
          clock(c),
          faults(options.faults),
          rng(options.seed != 0 ? options.seed : std::random_device{}()),
          secrets(options.max_secrets),
          calls(options.max_calls),
          hub(calls, options.sideband, clock) {}

    struct Plan {
        std::chrono::milliseconds delay{0};
        Fault fault = Fault::none;
        std::int64_t retry_after_ms = 0;
    };

    Plan plan();
    void count(Fault f) { faults_injected[static_cast<std::size_t>(f)].fetch_add(1); }
    bool api_key_ok(std::string_view token) const;
    std::optional<http::Response> require_api_key(const http::Request& req) const;
    http::Response answer(http::Request& req, const RouteMatch& m, const Plan& plan);
    http::Response dispatch(http::Request& req, const RouteMatch& m);
    http::Response client_secrets(const http::Request& req);
    http::Response create_call(const http::Request& req);
    http::Response hangup(const http::Request& req, std::string_view call_id);
    http::Response sideband(const http::Request& req);
    http::Response control(const http::Request& req);
    EmulatorStats stats() const;
    json::object stats_json() const;

    const EmulatorOptions options;
    const Clock& clock;
    mutable std::mutex mutex;  // guards faults, rng, connections
    FaultSettings faults;
    std::mt19937_64 rng;
    std::function<std::uint64_t()> connections;
    SecretRegistry secrets;
    CallRegistry calls;
    SidebandHub hub;
    std::array<std::atomic<std::uint64_t>, kRouteNames.size()> requests{};
    std::array<std::atomic<std::uint64_t>, kFaultNames.size()> faults_injected{};
    std::atomic<std::uint64_t> secrets_issued{0};
    std::atomic<std::uint64_t> calls_created{0};
    std::atomic<std::uint64_t> calls_hung_up{0};
};

Emulator::Impl::Plan Emulator::Impl::plan() {
    std::lock_guard lock(mutex);
    Plan p;
    p.retry_after_ms = faults.retry_after_ms;
    std::int64_t ms = faults.latency_ms;
    if (faults.latency_jitter_ms > 0) {
        ms += std::uniform_int_distribution<std::int64_t>(0, faults.latency_jitter_ms)(rng);
    }
    p.delay = std::chrono::milliseconds(ms);
    const std::pair<double, Fault> order[] = {
        {faults.reset_rate, Fault::reset}, {faults.hang_rate, Fault::hang},
        {faults.error_rate, Fault::error}, {faults.rate_limit_rate, Fault::rate_limit},
        {faults.quota_rate, Fault::quota}, {faults.malformed_rate, Fault::malformed},
    };
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (const auto& [rate, fault] : order) {
        if (rate > 0 && (rate >= 1.0 || unit(rng) < rate)) {
            p.fault = fault;
            break;
        }
    }
    return p;
}

bool Emulator::Impl::api_key_ok(std::string_view token) const {
    if (!options.api_key.empty()) {
        return constant_time_equals(token, options.api_key);
    }
    return token.starts_with("sk-") && token.size() > 3;
}

std::optional<http::Response> Emulator::Impl::require_api_key(const http::Request& req) const {
    const std::string token = bearer(req);
    if (token.empty()) {
        return error_answer(missing_key());
    }
    if (!api_key_ok(token)) {
        return error_answer(incorrect_key(token));
    }
    return std::nullopt;
}

http::Response Emulator::Impl::answer(http::Request& req, const RouteMatch& m, const Plan& plan) {
    if (plan.fault != Fault::none) {
        count(plan.fault);
    }
    switch (plan.fault) {
        case Fault::reset: {
            http::Response r;
            r.action = http::Action::reset;
            r.log_error = "emulated_reset";
            return r;
        }
        case Fault::hang: {
            http::Response r;
            r.action = http::Action::hang;
            r.log_error = "emulated_hang";
            return r;
        }
        case Fault::error:
            return server_error();
        case Fault::rate_limit:
            return rate_limited(plan.retry_after_ms);
        case Fault::quota:
            return quota_exceeded();
        case Fault::malformed: {
            // The work is done (a secret may be issued), but the answer arrives mangled, as
            // from a broken proxy: a 2xx whose body cannot be parsed.
            http::Response r = dispatch(req, m);
            if (r.status / 100 == 2 && r.body.size() > 1) {
                r.body.resize(r.body.size() / 2);
            } else {
                r = http::Response{};
                r.status = m.route == Route::calls ? 201 : 200;
                r.body = R"({"value":"ek_)";
            }
            r.log_error = "emulated_malformed";
            return r;
        }
        case Fault::latency:
        case Fault::none:
            break;
    }
    return dispatch(req, m);
}

http::Response Emulator::Impl::dispatch(http::Request& req, const RouteMatch& m) {
    switch (m.route) {
        case Route::client_secrets:
            return req.method == "POST" ? client_secrets(req) : error_answer(invalid_method(req));
        case Route::calls:
            return req.method == "POST" ? create_call(req) : error_answer(invalid_method(req));
        case Route::hangup:
            return req.method == "POST" ? hangup(req, m.call_id)
                                        : error_answer(invalid_method(req));
        case Route::sideband:
            return sideband(req);
        case Route::beta:
            return req.method == "POST" ? error_answer(beta_disabled())
                                        : error_answer(invalid_method(req));
        case Route::control:
        case Route::other:
            break;
    }
    return error_answer(invalid_url(req));
}

http::Response Emulator::Impl::client_secrets(const http::Request& req) {
    if (auto denied = require_api_key(req)) {
        return *denied;
    }
    if (req.header("openai-beta")) {
        return error_answer(beta_disabled());
    }
    if (auto err = check_json_content_type(req.header("content-type"))) {
        return error_answer(*err);
    }
    auto params = parse_client_secret_body(req.body);
    if (!params) {
        return error_answer(params.error());
    }
    const std::int64_t now = clock.now_s();
    IssuedSecret secret;
    secret.expires_at = now + params->ttl_seconds;
    secret.session_id = random_id("sess_", 21);
    if (!params->session.empty()) {
        secret.session_request = json::serialize(params->session);
    }
    json::object session = effective_session(params->session, secret.session_id);
    if (const auto* model = session.if_contains("model")) {
        secret.model = std::string(model->get_string());
    }
    std::string value = random_hex("ek_", 32);

    json::object body;
    body["value"] = value;
    body["expires_at"] = secret.expires_at;
    body["session"] = std::move(session);
    http::Response r = json_answer(200, body);
    secrets.add(std::move(value), std::move(secret), now);
    secrets_issued.fetch_add(1);
    return r;
}

http::Response Emulator::Impl::create_call(const http::Request& req) {
    const std::string token = bearer(req);
    if (token.empty()) {
        return error_answer(missing_key());
    }
    const bool ephemeral = token.starts_with("ek_");
    const std::int64_t now = clock.now_s();
    std::optional<IssuedSecret> secret;
    if (ephemeral) {
        // The exact upstream code for an expired or reused ek_ is UNCONFIRMED (reference §4);
        // all are 401 invalid_api_key here, with a message saying which.
        auto [check, found] = secrets.check(token, now, options.single_use_secrets);
        switch (check) {
            case SecretCheck::ok:
                secret = std::move(found);
                break;
            case SecretCheck::unknown:
                return error_answer(incorrect_key(token));
            case SecretCheck::expired:
                return error_answer(
                    api_error(401, "The client secret " + redact_secret(token) + " has expired.",
                              "invalid_request_error", "invalid_api_key"));
            case SecretCheck::used:
                return error_answer(api_error(
                    401, "The client secret " + redact_secret(token) + " has already been used.",
                    "invalid_request_error", "invalid_api_key"));
        }
    } else if (!api_key_ok(token)) {
        return error_answer(incorrect_key(token));
    }
    if (req.header("openai-beta")) {
        return error_answer(beta_disabled());
    }

    std::string sdp;
    std::optional<json::object> session_request;
    const std::string type = media_type(req);
    if (type == "application/sdp") {
        sdp = req.body;
    } else if (type == "multipart/form-data") {
        const auto parts =
            parse_multipart(req.body, multipart_boundary(*req.header("content-type")));
        if (!parts) {
            return error_answer(api_error(400, "Could not parse the multipart form data.",
                                          "invalid_request_error", "invalid_multipart"));
        }
        bool have_sdp = false;
        for (const auto& part : *parts) {
            if (part.name == "sdp") {
                sdp = part.body;
                have_sdp = true;
            } else if (part.name == "session") {
                boost::system::error_code ec;
                auto v = json::parse(part.body, ec);
                if (ec) {
                    return error_answer(
                        api_error(400, "Invalid 'session': the part is not valid JSON.",
                                  "invalid_request_error", "invalid_json", "session"));
                }
                auto checked = validate_session(v, "session");
                if (!checked) {
                    return error_answer(checked.error());
                }
                session_request = std::move(v.get_object());
            } else {
                return error_answer(api_error(400, "Unknown parameter: '" + part.name + "'.",
                                              "invalid_request_error", "unknown_parameter",
                                              part.name));
            }
        }
        if (!have_sdp) {
            return error_answer(api_error(400, "Missing required parameter: 'sdp'.",
                                          "invalid_request_error", "missing_required_parameter",
                                          "sdp"));
        }
    } else {
        const std::string shown(req.header("content-type").value_or(""));
        return error_answer(api_error(
            400,
            "Unsupported content type: '" + shown +
                "'. This API method only accepts 'application/sdp' or 'multipart/form-data' "
                "requests. Please try again with a supported content type.",
            "invalid_request_error", "unsupported_content_type"));
    }

    auto offer = parse_sdp_offer(sdp);
    if (!offer) {
        return error_answer(offer.error());
    }
    std::string call_id = random_id("rtc_u0_", 22);  // as OpenAI's (2026): rtc_u0_ + 22 base62
    CallRecord call;
    call.session_id = call_session_id(call_id);
    call.created_at = now;
    call.expires_at = now + options.sideband.call_cap_seconds;
    call.ends_at_ms = clock.now_ms() + options.sideband.call_cap_seconds * 1000;
    if (session_request) {
        const json::object session = effective_session(*session_request, call.session_id);
        if (const auto* model = session.if_contains("model")) {
            call.model = std::string(model->get_string());
        }
        call.session_request = json::serialize(*session_request);
    } else if (secret) {
        call.model = secret->model;
        call.session_request = secret->session_request;
    } else {
        call.model = std::string(kDefaultModel);  // API key, default session
    }
    if (ephemeral && !secrets.mark_used(token, options.single_use_secrets)) {
        return error_answer(
            api_error(401, "The client secret " + redact_secret(token) + " has already been used.",
                      "invalid_request_error", "invalid_api_key"));
    }
    http::Response r;
    r.status = 201;
    r.content_type = "text/plain; charset=utf-8";  // what the API sends (not application/sdp)
    r.body = build_sdp_answer(*offer, random_answer_params(options.media_address));
    r.set("location", std::string(kCallsPrefix) + call_id);
    r.set("access-control-expose-headers", "Location, X-Request-Id");
    calls.add(std::move(call_id), std::move(call));
    calls_created.fetch_add(1);
    return r;
}

http::Response Emulator::Impl::hangup(const http::Request& req, std::string_view call_id) {
    if (auto denied = require_api_key(req)) {
        return *denied;
    }
    if (!hub.end_call(call_id, CallEnd::hangup)) {  // closes its sidebands (1000)
        return error_answer(api_error(404, "No session found for the provided call_id",
                                      "invalid_request_error", "call_id_not_found"));
    }
    calls_hung_up.fetch_add(1);
    http::Response r;
    r.status = 200;
    r.content_type.clear();  // an empty 200, as the API answers
    return r;
}

http::Response Emulator::Impl::sideband(const http::Request& req) {
    const std::string token = bearer(req);
    if (token.empty()) {
        return error_answer(missing_key());
    }
    const ApiError not_found = api_error(404, "No session found for the provided call_id",
                                         "invalid_request_error", "call_id_not_found");
    if (token.starts_with("ek_")) {
        if (options.sideband.refuse_ephemeral) {
            return error_answer(not_found);  // as reported of the API since 2026-09
        }
        if (secrets.check(token, clock.now_s(), false).first != SecretCheck::ok) {
            return error_answer(incorrect_key(token));
        }
    } else if (!api_key_ok(token)) {
        return error_answer(incorrect_key(token));
    }
    const std::string call_id = query_param(req.query, "call_id");
    if (call_id.empty()) {
        return error_answer(api_error(400, "Missing required parameter: 'call_id'.",
                                      "invalid_request_error", "missing_required_parameter",
                                      "call_id"));
    }
    FaultSettings f;
    bool refuse = false;
    {
        std::lock_guard lock(mutex);
        f = faults;
        refuse = f.sideband_refuse_rate > 0 &&
                 (f.sideband_refuse_rate >= 1.0 ||
                  std::uniform_real_distribution<double>(0.0, 1.0)(rng) < f.sideband_refuse_rate);
    }
    return hub.join(call_id, f, refuse);
}

http::Response Emulator::Impl::control(const http::Request& req) {
    if (req.path.starts_with("/_emulator/calls/") || req.path == "/_emulator/calls") {
        return hub.control(req);
    }
    if (req.path == "/_emulator/stats") {
        if (req.method != "GET") {
            return error_answer(invalid_method(req));
        }
        return json_answer(200, stats_json());
    }
    if (req.path == "/_emulator/faults") {
        if (req.method == "GET") {
            std::lock_guard lock(mutex);
            return json_answer(200, faults_to_json(faults));
        }
        if (req.method == "POST") {
            std::lock_guard lock(mutex);
            auto updated = apply_faults_json(faults, req.body);
            if (!updated) {
                return error_answer(updated.error());
            }
            faults = *updated;
            return json_answer(200, faults_to_json(faults));
        }
        if (req.method == "DELETE") {
            std::lock_guard lock(mutex);
            const std::int64_t retry_after_ms = faults.retry_after_ms;
            faults = FaultSettings{};
            faults.retry_after_ms = retry_after_ms;
            return json_answer(200, faults_to_json(faults));
        }
        return error_answer(invalid_method(req));
    }
    return error_answer(invalid_url(req));
}

EmulatorStats Emulator::Impl::stats() const {
    EmulatorStats s;
    {
        std::lock_guard lock(mutex);
        s.connections_accepted = connections ? connections() : 0;
    }
    for (std::size_t i = 0; i < kRouteNames.size(); ++i) {
        s.requests[std::string(kRouteNames[i])] = requests[i].load();
    }
    for (std::size_t i = 0; i < kFaultNames.size(); ++i) {
        s.faults_injected[std::string(kFaultNames[i])] = faults_injected[i].load();
    }
    s.secrets_issued = secrets_issued.load();
    s.calls_created = calls_created.load();
    s.calls_hung_up = calls_hung_up.load();
    s.secrets_active = secrets.size();
    s.calls_active = calls.size();
    const SidebandStats sb = hub.stats();
    s.sidebands_open = sb.open;
    s.sidebands_opened = sb.opened;
    s.sideband_events_sent = sb.events_sent;
    s.sideband_responses_sent = sb.responses_sent;
    s.faults_injected["sideband_refused"] = sb.refused;
    s.faults_injected["sideband_dropped"] = sb.dropped;
    return s;
}

json::object Emulator::Impl::stats_json() const {
    const EmulatorStats s = stats();
    json::object by_route;
    for (const auto& [k, v] : s.requests) {
        by_route[k] = v;
    }
    json::object by_fault;
    for (const auto& [k, v] : s.faults_injected) {
        by_fault[k] = v;
    }
    return json::object{
        {"connections_accepted", s.connections_accepted},
        {"requests", std::move(by_route)},
        {"secrets_issued", s.secrets_issued},
        {"secrets_active", s.secrets_active},
        {"calls_created", s.calls_created},
        {"calls_active", s.calls_active},
        {"calls_hung_up", s.calls_hung_up},
        {"sidebands_open", s.sidebands_open},
        {"sidebands_opened", s.sidebands_opened},
        {"sideband_events_sent", s.sideband_events_sent},
        {"sideband_responses_sent", s.sideband_responses_sent},
        {"faults_injected", std::move(by_fault)},
    };
}

// ---- public ----

Emulator::Emulator(EmulatorOptions options) : Emulator(std::move(options), system_clock()) {}

Emulator::Emulator(EmulatorOptions options, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {}

Emulator::~Emulator() = default;

asio::awaitable<http::Response> Emulator::handle(http::Request& req) {
    const auto started = std::chrono::steady_clock::now();
    const RouteMatch match = classify(req.path, req.method);
    impl_->requests[static_cast<std::size_t>(match.route)].fetch_add(1);
    http::Response res;
    if (req.method == "OPTIONS") {
        res = preflight(req);
    } else if (match.route == Route::control) {
        res = impl_->control(req);
    } else {
        req.request_id = random_hex("req_", 32);
        const bool faultable = match.route == Route::client_secrets ||
                               match.route == Route::calls || match.route == Route::hangup;
        const Impl::Plan plan = faultable ? impl_->plan() : Impl::Plan{};
        if (plan.delay.count() > 0) {
            impl_->count(Fault::latency);
            asio::steady_timer timer(co_await asio::this_coro::executor, plan.delay);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        res = impl_->answer(req, match, plan);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        res.set("openai-processing-ms", std::to_string(ms));
        res.set("openai-version", "2020-10-01");
    }
    add_cors(res);
    co_return res;
}

http::Handler Emulator::handler() {
    return [this](http::Request& req) { return handle(req); };
}

void Emulator::set_connection_counter(std::function<std::uint64_t()> counter) {
    std::lock_guard lock(impl_->mutex);
    impl_->connections = std::move(counter);
}

FaultSettings Emulator::faults() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->faults;
}

void Emulator::set_faults(const FaultSettings& faults) {
    std::lock_guard lock(impl_->mutex);
    impl_->faults = faults;
}

EmulatorStats Emulator::stats() const {
    return impl_->stats();
}

boost::json::object Emulator::stats_json() const {
    return impl_->stats_json();
}

}  // namespace voicegate::emulator
