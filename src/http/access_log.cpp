#include "http/access_log.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "core/log.hpp"
#include "core/text.hpp"

namespace voicegate::http {

void log_access(std::string_view server, const Request& req, const Response& res,
                double latency_ms) {
    auto logger = log::access();
    if (!logger || !logger->should_log(spdlog::level::info)) {
        return;
    }
    // The path only: query strings may carry cursors or filters but never credentials; tokens
    // travel in headers and bodies, which are not logged.
    logger->info(
        R"({{"time":"{}","server":"{}","request_id":"{}","method":"{}","route":"{}","status":{},"latency_ms":{:.3f},"user":"{}","ip":"{}"{}}})",
        log::iso_time_now(), server, json_escape(req.request_id), json_escape(req.method),
        json_escape(req.path), res.status, latency_ms, json_escape(res.log_user),
        json_escape(req.client_ip),
        res.log_error.empty() ? std::string()
                              : R"(,"error":")" + json_escape(res.log_error) + "\"");
}

}  // namespace voicegate::http
