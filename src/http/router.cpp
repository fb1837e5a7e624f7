#include "http/router.hpp"

#include <algorithm>

#include "http/response.hpp"

namespace voicegate::http {

std::size_t Router::name_route(const std::string& route) {
    const auto it = std::find(route_names_.begin(), route_names_.end(), route);
    if (it != route_names_.end()) {
        return static_cast<std::size_t>(it - route_names_.begin());
    }
    route_names_.push_back(route);
    return route_names_.size() - 1;
}

std::size_t Router::route_index(const std::string& path) const {
    if (auto it = exact_route_.find(path); it != exact_route_.end()) {
        return it->second;
    }
    for (const auto& [prefix, index] : prefix_route_) {
        if (path.compare(0, prefix.size(), prefix) == 0) {
            return index;
        }
    }
    return route_names_.size();
}

void Router::add(const std::string& method, const std::string& path, Handler handler,
                 const std::string& route) {
    exact_[path].emplace_back(method, std::move(handler));
    exact_route_.emplace(path, name_route(route.empty() ? path : route));
}

void Router::add_prefix(const std::string& method, const std::string& prefix, Handler handler,
                        const std::string& route) {
    if (std::none_of(prefix_route_.begin(), prefix_route_.end(),
                     [&](const auto& p) { return p.first == prefix; })) {
        prefix_route_.emplace_back(prefix, name_route(route.empty() ? prefix + "*" : route));
        std::sort(prefix_route_.begin(), prefix_route_.end(),
                  [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    }
    auto it = std::find_if(prefixes_.begin(), prefixes_.end(),
                           [&](const auto& p) { return p.first == prefix; });
    if (it == prefixes_.end()) {
        prefixes_.emplace_back(prefix, Methods{});
        it = std::prev(prefixes_.end());
        std::sort(prefixes_.begin(), prefixes_.end(),
                  [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
        it = std::find_if(prefixes_.begin(), prefixes_.end(),
                          [&](const auto& p) { return p.first == prefix; });
    }
    it->second.emplace_back(method, std::move(handler));
}

const Router::Methods* Router::find(const std::string& path) const {
    if (auto it = exact_.find(path); it != exact_.end()) {
        return &it->second;
    }
    for (const auto& [prefix, methods] : prefixes_) {
        if (path.compare(0, prefix.size(), prefix) == 0) {
            return &methods;
        }
    }
    return nullptr;
}

std::string Router::allowed_methods(const std::string& path) const {
    const Methods* methods = find(path);
    if (methods == nullptr) {
        return {};
    }
    std::string allow;
    for (const auto& [m, h] : *methods) {
        if (!allow.empty()) {
            allow += ", ";
        }
        allow += m;
    }
    if (std::any_of(methods->begin(), methods->end(),
                    [](const auto& p) { return p.first == "GET"; })) {
        allow += ", HEAD";
    }
    return allow;
}

boost::asio::awaitable<Response> Router::dispatch(Request& req, bool dev) const {
    const Methods* methods = find(req.path);
    if (methods == nullptr) {
        co_return error_response(fail(Error::not_found, {}, "no route for " + req.path), dev);
    }
    const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
    for (const auto& [m, h] : *methods) {
        if (m == method) {
            auto res = co_await h(req);
            if (req.method == "HEAD") {
                res.omit_body = true;  // the server sends GET's Content-Length without the body
            }
            co_return res;
        }
    }
    auto res = error_response(fail(Error::method_not_allowed,
                                   "Method " + req.method + " is not allowed on " + req.path + "."),
                              dev);
    res.set("Allow", allowed_methods(req.path));
    co_return res;
}

}  // namespace voicegate::http
