#pragma once

#include <functional>

#include <boost/asio/awaitable.hpp>

#include "api/admin_handlers.hpp"
#include "api/handlers.hpp"
#include "config/config.hpp"
#include "emulator/emulator.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "store/session_store.hpp"

namespace voicegate::app {

/// What the routes dispatch to. References and pointers are borrowed: they must outlive the
/// router the routes are added to.
struct RouteTargets {
    const config::Config& config;
    api::TokenHandler& token;
    api::EndHandler& end;
    api::CallsHandler& calls;
    api::AttachHandler& attach;
    api::AdminHandler& admin;
    const store::SessionStore& store;
    emulator::Emulator* emulator = nullptr;  // the in-process emulator, when it runs
    /// GET /metrics (registered only when metrics are enabled).
    std::function<boost::asio::awaitable<http::Response>(const http::Request&)> metrics;
};

/// Adds every route of the service to `router`: the API, health, metrics, admin, the
/// in-process emulator's calls endpoint, and the embedded static assets (with their directory
/// indexes). The one table of routes.
void add_routes(http::Router& router, const RouteTargets& targets);

}  // namespace voicegate::app
