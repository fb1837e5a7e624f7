#include "http/router.hpp"

#include <algorithm>

#include "http/response.hpp"

namespace voicegate::http {

void Router::add(const std::string& method, const std::string& path, Handler handler) {
    exact_[path].emplace_back(method, std::move(handler));
}

void Router::add_prefix(const std::string& method, const std::string& prefix, Handler handler) {
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
    if (std::any_of(methods->begin(), methods->end(), [](const auto& p) { return p.first == "GET"; })) {
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
                res.body.clear();
            }
            co_return res;
        }
    }
    auto res = error_response(
        fail(Error::method_not_allowed,
             "Method " + req.method + " is not allowed on " + req.path + "."),
        dev);
    res.set("Allow", allowed_methods(req.path));
    co_return res;
}

}  // namespace voicegate::http
