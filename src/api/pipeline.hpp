#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/rate_policy.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "net/ip_admission.hpp"

namespace voicegate::api {

/// What the pipeline needs of the server settings.
struct PipelineOptions {
    bool dev = false;                       // details in error bodies
    std::vector<std::string> cors_origins;  // allowed origins ("*": any); empty: no CORS
    int max_in_flight = 0;                  // API requests at once before 503 (0: no cap)
};

/// The request pipeline in front of the router, in order: IP admission, the answer to OPTIONS
/// (CORS preflight), load shedding of /api/ requests beyond max_in_flight, the operator's
/// per-route limits, dispatch, then the CORS headers of the answer.
/// Thread safety: immutable after construction except the in-flight counter (atomic); handle()
/// is safe from any loop. The admission, rates and router must outlive it.
class Pipeline {
public:
    /// A pipeline routing through `router`, admitting clients through `admission` and applying
    /// the per-route limits of `rates`.
    Pipeline(const net::IpAdmission& admission, const RatePolicy& rates, const http::Router& router,
             PipelineOptions options);

    /// Answers `req` (sets req.route for the metrics first). The caller must co_await at once.
    boost::asio::awaitable<http::Response> handle(http::Request& req);

private:
    // A 503 overloaded (Retry-After: 1), or nothing when the request may go on; counts the
    // request in api_in_flight_ when it does (`counted`).
    std::optional<http::Response> shed(const http::Request& req,
                                       std::optional<std::string_view> origin, bool& counted);

    const net::IpAdmission& admission_;
    const RatePolicy& rates_;
    const http::Router& router_;
    PipelineOptions options_;
    std::atomic<int> api_in_flight_{0};  // API requests being handled (load shedding)
};

}  // namespace voicegate::api
