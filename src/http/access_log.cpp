#include "http/access_log.hpp"

#include <chrono>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "core/log.hpp"

namespace voicegate::http {

std::string json_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    for (const char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

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
