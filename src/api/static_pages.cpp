#include "api/static_pages.hpp"

#include "http/response.hpp"
#include "web/static_files.hpp"

namespace voicegate::api {

namespace {

/// The asset at `path`, else the index.html of the directory `path` names ("/", "/dashboard",
/// "/dashboard/"), else nullptr.
const web::Asset* find_page(std::string_view path) {
    if (const auto* asset = web::find_asset(path)) {
        return asset;
    }
    std::string index(path);
    if (index.empty() || index.back() != '/') {
        index += '/';
    }
    index += "index.html";
    return web::find_asset(index);
}

/// `scheme://host[:port]` of an http(s) URL; empty if it is not one or is OpenAI's (already
/// allowed) or holds characters that do not belong in a CSP source.
std::string extra_connect_origin(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos ||
        (url.substr(0, scheme_end) != "https" && url.substr(0, scheme_end) != "http")) {
        return {};
    }
    const auto host_end = url.find_first_of("/?#", scheme_end + 3);
    std::string origin(url.substr(0, host_end));
    if (origin == "https://api.openai.com" ||
        origin.find_first_of(" ;,'\"\r\n") != std::string::npos) {
        return {};
    }
    return origin;
}

}  // namespace

http::Response static_response(const http::Request& req, bool dev, std::string_view upstream_base) {
    const auto* asset = find_page(req.path);
    if (asset == nullptr) {
        return http::error_response(fail(Error::not_found), dev);
    }
    http::Response res;
    res.content_type = std::string(asset->content_type);
    res.body = std::string(asset->body);
    res.set("Cache-Control", "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    if (asset->content_type.rfind("text/html", 0) == 0) {
        const std::string extra = extra_connect_origin(upstream_base);
        res.set("Content-Security-Policy",
                "default-src 'self'; connect-src 'self' https://api.openai.com" +
                    (extra.empty() ? std::string() : " " + extra) +
                    "; media-src 'self' blob:; img-src 'self' data:; style-src 'self'; "
                    "script-src 'self'; frame-ancestors 'none'");
        res.set("Referrer-Policy", "no-referrer");
    }
    return res;
}

}  // namespace voicegate::api
