#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/observer.hpp"
#include "api/quota_denials.hpp"
#include "auth/token_verifier.hpp"
#include "core/clock.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"

namespace voicegate::api {

/// POST /api/realtime/end: records how a session ended, exactly once (SPEC §3.3).
/// Thread safety: immutable after construction; safe to call from every event loop.
class EndHandler {
public:
    /// `dev`: error bodies carry details. `verifier` null: authentication is off (anyone may
    /// end any session). Every reference is borrowed; `observer` (may be null) is told of every
    /// first end. All must outlive the handler.
    EndHandler(bool dev, const auth::TokenVerifier* verifier, const QuotaDenials& quota_denials,
               store::SessionStore& sessions, const Clock& clock, Observer* observer = nullptr);
    /// Answers one end request.
    boost::asio::awaitable<http::Response> handle(http::Request& req) const;

private:
    bool dev_;
    const auth::TokenVerifier* verifier_;
    const QuotaDenials& quota_denials_;
    store::SessionStore& sessions_;
    const Clock& clock_;
    Observer* observer_;
};

}  // namespace voicegate::api
