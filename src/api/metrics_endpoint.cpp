#include "api/metrics_endpoint.hpp"

#include "core/ids.hpp"
#include "net/listen.hpp"

namespace voicegate::api {

MetricsAccess metrics_access(const config::MetricsConfig& config, const http::Request& req) {
    if (!config.token.empty()) {
        const auto header = req.header("authorization").value_or("");
        const bool bearer = header.size() > 7 &&
                            (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer ");
        return bearer && constant_time_equals(header.substr(7), config.token)
                   ? MetricsAccess::allowed
                   : MetricsAccess::refused;
    }
    // A reverse proxy on the same host makes every client look local: a proxied request is
    // not a loopback client.
    const bool proxied = req.header("x-forwarded-for") || req.header("forwarded");
    if (!proxied && net::is_loopback(req.client_ip)) {
        return MetricsAccess::allowed;
    }
    return MetricsAccess::ask_admin;
}

http::Response metrics_response(std::string text) {
    http::Response res;
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = std::move(text);
    res.set("Cache-Control", "no-store");
    return res;
}

}  // namespace voicegate::api
