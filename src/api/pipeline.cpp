#include "api/pipeline.hpp"

#include <utility>

#include "http/cors.hpp"
#include "http/response.hpp"

namespace voicegate::api {
namespace asio = boost::asio;

namespace {
constexpr std::string_view kExposeOverloaded = "X-Request-Id, Retry-After";
constexpr std::string_view kExpose =
    "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, X-Session-Id, Location";

// Gives back the in-flight slot however the request ends.
struct InFlight {
    std::atomic<int>* n = nullptr;
    InFlight() = default;
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    ~InFlight() {
        if (n != nullptr) {
            n->fetch_sub(1, std::memory_order_relaxed);
        }
    }
};
}  // namespace

Pipeline::Pipeline(const net::IpAdmission& admission, const RatePolicy& rates,
                   const http::Router& router, PipelineOptions options)
    : admission_(admission), rates_(rates), router_(router), options_(std::move(options)) {}

std::optional<http::Response> Pipeline::shed(const http::Request& req,
                                             std::optional<std::string_view> origin,
                                             bool& counted) {
    counted = false;
    if (options_.max_in_flight <= 0 || !req.path.starts_with("/api/")) {
        return std::nullopt;
    }
    if (api_in_flight_.fetch_add(1, std::memory_order_relaxed) < options_.max_in_flight) {
        counted = true;
        return std::nullopt;
    }
    api_in_flight_.fetch_sub(1, std::memory_order_relaxed);
    auto failure =
        fail(Error::overloaded, {}, std::to_string(options_.max_in_flight) + " requests in flight");
    failure.retry_after_s = 1;
    auto res = http::error_response(failure, options_.dev);
    // Unlike the other answers, a refused origin gets no Vary here (as it always was).
    if (http::cors_allows(options_.cors_origins, origin)) {
        http::cors_decorate(res, options_.cors_origins, origin, kExposeOverloaded);
    }
    return res;
}

asio::awaitable<http::Response> Pipeline::handle(http::Request& req) {
    req.route = router_.route_index(req.path);
    req.client_ip = admission_.client_ip(req.client_ip, req.headers);
    if (auto admitted = admission_.admit(req.client_ip); !admitted) {
        co_return http::error_response(admitted.error(), options_.dev);
    }
    const auto origin = req.header("origin");
    if (req.method == "OPTIONS") {
        // CORS preflight (or a plain OPTIONS): answer with what the route allows.
        const auto allow = router_.allowed_methods(req.path);
        if (allow.empty()) {
            co_return http::error_response(fail(Error::not_found), options_.dev);
        }
        co_return http::cors_preflight(options_.cors_origins, origin, allow);
    }
    // Load shedding: beyond max_in_flight API requests at once, answer 503 at once (cheap, with
    // Retry-After) rather than queue behind the upstream pool, so accepted requests keep a
    // bounded latency under overload and clients back off.
    InFlight in_flight;
    bool counted = false;
    if (auto refused = shed(req, origin, counted)) {
        co_return std::move(*refused);
    }
    if (counted) {
        in_flight.n = &api_in_flight_;
    }
    // The operator's per-route limits (VOICEGATE_RATE_ROUTES) come before the handler.
    RateVerdict limits;
    if (const auto* rate = rates_.route_rate(req.path)) {
        limits = co_await rates_.limit_route(req.path, *rate, req.client_ip);
    }
    http::Response res;
    if (limits.allowed) {
        res = co_await router_.dispatch(req, options_.dev);
    } else {
        res = http::error_response(limits.allowed.error(), options_.dev);
    }
    limits.add_headers_to(res);
    http::cors_decorate(res, options_.cors_origins, origin, kExpose);
    co_return res;
}

}  // namespace voicegate::api
