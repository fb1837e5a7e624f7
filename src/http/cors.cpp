#include "http/cors.hpp"

namespace voicegate::http {

bool cors_allows(const std::vector<std::string>& allowed, std::optional<std::string_view> origin) {
    if (!origin) {
        return false;
    }
    for (const auto& o : allowed) {
        if (o == "*" || o == *origin) {
            return true;
        }
    }
    return false;
}

Response cors_preflight(const std::vector<std::string>& allowed,
                        std::optional<std::string_view> origin, const std::string& methods) {
    Response res;
    res.status = 204;
    res.content_type.clear();
    res.set("Allow", methods + ", OPTIONS");
    if (cors_allows(allowed, origin)) {
        res.set("Access-Control-Allow-Origin", std::string(*origin));
        res.set("Access-Control-Allow-Methods", methods + ", OPTIONS");
        res.set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id");
        res.set("Access-Control-Max-Age", "600");
    }
    if (!allowed.empty()) {
        res.set("Vary", "Origin");
    }
    return res;
}

void cors_decorate(Response& res, const std::vector<std::string>& allowed,
                   std::optional<std::string_view> origin, std::string_view expose) {
    if (cors_allows(allowed, origin)) {
        res.set("Access-Control-Allow-Origin", std::string(*origin));
        res.set("Access-Control-Expose-Headers", std::string(expose));
    }
    if (!allowed.empty()) {
        res.set("Vary", "Origin");
    }
}

}  // namespace voicegate::http
