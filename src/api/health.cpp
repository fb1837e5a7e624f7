#include "api/health.hpp"

#include <boost/json.hpp>

#include "http/response.hpp"

namespace voicegate::api {
namespace json = boost::json;

http::Response health_response() {
    return http::json_response(200, json::object{{"success", true}, {"status", "ok"}});
}

http::Response ready_response(const store::SessionStore& sessions) {
    if (!sessions.ready()) {
        auto res = http::json_response(503, json::object{{"success", false},
                                                         {"error", "Storage is not ready."},
                                                         {"code", "store_unavailable"}});
        res.set("Retry-After", "1");
        return res;
    }
    return http::json_response(200, json::object{{"success", true}, {"status", "ready"}});
}

}  // namespace voicegate::api
