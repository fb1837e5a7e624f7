#pragma once

#include "http/message.hpp"
#include "store/session_store.hpp"

namespace voicegate::api {

/// GET /healthz: the process is alive. Pure.
http::Response health_response();

/// GET /readyz: storage and configuration are ready (503 otherwise).
http::Response ready_response(const store::SessionStore& sessions);

}  // namespace voicegate::api
