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
    /// Registers `handler` for `method` on exact `path`.
    void add(const std::string& method, const std::string& path, Handler handler);
    /// Registers `handler` for `method` on every path starting with `prefix` (longest wins).
    void add_prefix(const std::string& method, const std::string& prefix, Handler handler);
    /// Routes `req`; `dev` adds details to 404/405 bodies.
    boost::asio::awaitable<Response> dispatch(Request& req, bool dev) const;
    /// Methods allowed on `path` (for CORS preflight and 405), comma-separated; empty if none.
    std::string allowed_methods(const std::string& path) const;

private:
    using Methods = std::vector<std::pair<std::string, Handler>>;
    const Methods* find(const std::string& path) const;

    std::unordered_map<std::string, Methods> exact_;
    std::vector<std::pair<std::string, Methods>> prefixes_;
};

}  // namespace voicegate::http
