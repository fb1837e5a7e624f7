#pragma once

#include <cstdint>
#include <optional>

#include <boost/asio/awaitable.hpp>

#include "api/admin_auth.hpp"
#include "api/admin_query.hpp"
#include "api/admin_render.hpp"
#include "core/clock.hpp"
#include "http/message.hpp"
#include "store/session_store.hpp"

namespace voicegate::api {

/// What the admin routes are configured with.
struct AdminSettings {
    bool dev = false;                 // VOICEGATE_DEV: error bodies carry details
    std::int64_t session_max_ms = 0;  // older open sessions count as abandoned in the live view
};

/// GET /api/admin/{usage,live,sessions,events} (docs/admin-api.md). Every route needs the admin
/// identity (401 with WWW-Authenticate: Bearer; 404 when admin is off). Glue: the queries are
/// parsed by admin_query, the answers rendered by admin_render.
/// Thread safety: immutable after construction; safe to call from every event loop.
class AdminHandler {
public:
    /// `admin`, `sessions` and `clock` are borrowed and must outlive the handler.
    AdminHandler(AdminSettings settings, const AdminAuth& admin, store::SessionStore& sessions,
                 const Clock& clock);
    /// GET /api/admin/usage.
    boost::asio::awaitable<http::Response> usage(http::Request& req) const;
    /// GET /api/admin/live.
    boost::asio::awaitable<http::Response> live(http::Request& req) const;
    /// GET /api/admin/sessions (JSON or CSV).
    boost::asio::awaitable<http::Response> sessions(http::Request& req) const;
    /// GET /api/admin/events.
    boost::asio::awaitable<http::Response> events(http::Request& req) const;

private:
    /// The refusal for a request without the admin identity, or nullopt.
    boost::asio::awaitable<std::optional<http::Response>> refuse(const http::Request& req) const;

    AdminSettings settings_;
    const AdminAuth& admin_;
    store::SessionStore& sessions_;
    const Clock& clock_;
};

}  // namespace voicegate::api
