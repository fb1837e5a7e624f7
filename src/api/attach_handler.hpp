#pragma once

#include <cstdint>

#include <boost/asio/awaitable.hpp>

#include "api/call_recorder.hpp"
#include "api/observer.hpp"
#include "auth/token_verifier.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"

namespace voicegate::api {

/// What the attach handler is configured with.
struct AttachSettings {
    config::TokenPolicy tokens;       // the profiles (their call caps)
    std::int64_t default_cap_ms = 0;  // VOICEGATE_SESSION_MAX_MINUTES, for sessions without one
    bool dev = false;                 // VOICEGATE_DEV: error bodies carry details
};

/// POST /api/realtime/attach (SPEC §7.2): the app reports the call id OpenAI gave it for a
/// token-flow session, and voicegate supervises that call. Owner check as /end (403 for
/// another user's session, with auth on), 404 for an unknown session, 400 naming a missing or
/// malformed field, 409 for an ended session or one holding another call; a repeat answers
/// 200 and attaches nothing twice. 200: `{"success":true,"sessionId","supervised":true}`.
/// Thread safety: immutable after construction; safe to call from every event loop.
class AttachHandler {
public:
    /// `verifier` null: authentication is off (anyone may attach to any session, as /end).
    /// Every reference is borrowed and must outlive the handler; `observer` may be null.
    AttachHandler(AttachSettings settings, const auth::TokenVerifier* verifier,
                  store::SessionStore& sessions, CallRecorder& recorder, const Clock& clock,
                  Observer* observer = nullptr);
    /// Answers one attach request.
    boost::asio::awaitable<http::Response> handle(http::Request& req) const;

private:
    AttachSettings settings_;
    const auth::TokenVerifier* verifier_;
    store::SessionStore& sessions_;
    CallRecorder& recorder_;
    const Clock& clock_;
    Observer* observer_;
};

}  // namespace voicegate::api
