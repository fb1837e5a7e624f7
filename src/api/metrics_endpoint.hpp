#pragma once

#include <string>

#include "config/config.hpp"
#include "http/message.hpp"

namespace voicegate::api {

/// Who may read GET /metrics (SPEC §6).
enum class MetricsAccess {
    allowed,    // the metrics token matched, or a direct loopback client without a token set
    ask_admin,  // no token set, not loopback: allowed only to the admin identity
    refused,    // a token is set and the request does not carry it
};

/// Decides access to /metrics: with `config.token` set, only `Authorization: Bearer TOKEN`
/// (constant-time compare), from anywhere; otherwise a loopback client that did not come
/// through a proxy (no Forwarded / X-Forwarded-For header) is allowed, and everyone else must
/// be the admin. `req.client_ip` must already be resolved (net::IpAdmission::client_ip). Pure.
MetricsAccess metrics_access(const config::MetricsConfig& config, const http::Request& req);

/// The 200 answer carrying `text` in the Prometheus text format 0.0.4. Pure.
http::Response metrics_response(std::string text);

}  // namespace voicegate::api
