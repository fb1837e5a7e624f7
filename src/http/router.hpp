#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "http/server.hpp"

namespace voicegate::http {

/// Maps (method, path) to handlers: exact paths, plus prefix routes for static trees.
/// Unknown paths are 404 `not_found`; known paths with another method are 405 with `Allow`.
/// Thread safety: build at start-up, then read-only (dispatch is safe from any thread).
class Router {
public:
    /// Registers `handler` for `method` on exact `path`. `route` names the route in metrics
    /// (empty: `path`); several paths may share one name (e.g. static assets).
    void add(const std::string& method, const std::string& path, Handler handler,
             const std::string& route = {});
    /// Registers `handler` for `method` on every path starting with `prefix` (longest wins);
    /// `route` as for add() (empty: `prefix` followed by `*`).
    void add_prefix(const std::string& method, const std::string& prefix, Handler handler,
                    const std::string& route = {});
    /// Routes `req`; `dev` adds details to 404/405 bodies.
    boost::asio::awaitable<Response> dispatch(Request& req, bool dev) const;
    /// Methods allowed on `path` (for CORS preflight and 405), comma-separated; empty if none.
    std::string allowed_methods(const std::string& path) const;
    /// The metric route names, in registration order (for metrics::HttpMetrics).
    const std::vector<std::string>& routes() const { return route_names_; }
    /// The index in routes() of the route serving `path` (any method), or routes().size() when
    /// none does. One hash lookup; safe from any thread after start-up.
    std::size_t route_index(const std::string& path) const;

private:
    using Methods = std::vector<std::pair<std::string, Handler>>;
    const Methods* find(const std::string& path) const;

    std::unordered_map<std::string, Methods> exact_;
    std::vector<std::pair<std::string, Methods>> prefixes_;
    std::size_t name_route(const std::string& route);

    std::vector<std::string> route_names_;
    std::unordered_map<std::string, std::size_t> exact_route_;
    std::vector<std::pair<std::string, std::size_t>> prefix_route_;  // longest prefix first
};

}  // namespace voicegate::http
