#include <chrono>

#include "core/ids.hpp"
#include "core/text.hpp"
#include "http/request_reader.hpp"

namespace voicegate::http {
namespace bhttp = boost::beast::http;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (const char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

Request to_request(bhttp::request<bhttp::string_body>& msg, const std::string& peer,
                   bool trust_request_id) {
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    // Absolute form (RFC 9112 §3.2.2: "http://host/path"), which servers must accept: the
    // path and query are what route; the authority is ignored as Host is.
    const std::string_view t = req.target;
    for (const std::string_view scheme : {"http://", "https://"}) {
        if (t.size() > scheme.size() && iequals(t.substr(0, scheme.size()), scheme)) {
            const auto slash = t.find('/', scheme.size());
            req.target = slash == std::string_view::npos ? "/" : std::string(t.substr(slash));
            break;
        }
    }
    const auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) {
        req.query = req.target.substr(q + 1);
    }
    req.headers.reserve(16);
    for (const auto& f : msg) {
        req.headers.emplace_back(to_lower(f.name_string()), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    req.client_ip = peer;
    req.received_at_ms = now_ms();
    const auto incoming = req.header("x-request-id");
    if (trust_request_id && incoming && sane_request_id(*incoming)) {
        req.request_id = std::string(*incoming);
    } else {
        req.request_id = random_hex("req_", 20);
    }
    return req;
}

}  // namespace voicegate::http
