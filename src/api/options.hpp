#pragma once

#include <string>

#include "config/config.hpp"
#include "http/message.hpp"

namespace voicegate::api {

/// GET /api/realtime/options: the models, voices and limits the console offers, and
/// `realtimeCallsUrl`, where a browser posts its SDP offer (see realtime_calls_url). Pure.
http::Response options_response(const config::Config& config);

/// The upstream calls endpoint for browsers: `{OPENAI_BASE_URL}/realtime/calls`, or with the
/// in-process emulator `/v1/realtime/calls` on this service's own origin (App mounts the
/// emulator's route there, so a browser elsewhere on the network reaches it too). Pure.
std::string realtime_calls_url(const config::Config& config);

}  // namespace voicegate::api
