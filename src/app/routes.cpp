#include "app/routes.hpp"

#include <string>

#include "web/index_paths.hpp"
#include "web/static_files.hpp"

namespace voicegate::app {
namespace asio = boost::asio;

void add_routes(http::Router& router, const RouteTargets& t) {
    // Pointers, not references, in the captures: the targets outlive the router.
    auto* token = &t.token;
    auto* end = &t.end;
    auto* calls = &t.calls;
    auto* attach = &t.attach;
    auto* admin = &t.admin;
    const auto* cfg = &t.config;
    const auto* store = &t.store;
    router.add("POST", "/api/realtime/token",
               [token](http::Request& r) { return token->handle(r); });
    router.add("POST", "/api/realtime/end", [end](http::Request& r) { return end->handle(r); });
    router.add("POST", "/api/realtime/calls",
               [calls](http::Request& r) { return calls->handle(r); });
    router.add("POST", "/api/realtime/attach",
               [attach](http::Request& r) { return attach->handle(r); });
    router.add("GET", "/api/realtime/options",
               [cfg](http::Request&) -> asio::awaitable<http::Response> {
                   co_return api::options_response(*cfg);
               });
    router.add("GET", "/healthz", [](http::Request&) -> asio::awaitable<http::Response> {
        co_return api::health_response();
    });
    router.add("GET", "/readyz", [store](http::Request&) -> asio::awaitable<http::Response> {
        co_return api::ready_response(*store);
    });
    if (cfg->metrics.enabled) {
        router.add("GET", "/metrics", [m = t.metrics](http::Request& r) { return m(r); });
    }
    router.add("GET", "/api/admin/usage", [admin](http::Request& r) { return admin->usage(r); });
    router.add("GET", "/api/admin/live", [admin](http::Request& r) { return admin->live(r); });
    router.add("GET", "/api/admin/sessions",
               [admin](http::Request& r) { return admin->sessions(r); });
    router.add("GET", "/api/admin/events", [admin](http::Request& r) { return admin->events(r); });
    if (auto* emu = t.emulator) {
        // The in-process emulator's calls endpoint on this origin: the console's live session
        // (or an app in development) posts its SDP offer here exactly as it would to OpenAI.
        router.add("POST", "/v1/realtime/calls",
                   [emu](http::Request& r) { return emu->handle(r); });
    }
    auto serve_static = [cfg](http::Request& r) -> asio::awaitable<http::Response> {
        co_return api::static_response(r, cfg->server.dev,
                                       cfg->uses_emulator() ? "" : cfg->upstream.base_url);
    };
    for (auto asset : web::asset_paths()) {
        for (const auto& path : web::served_paths(asset)) {
            router.add("GET", path, serve_static, "static");
        }
    }
}

}  // namespace voicegate::app
