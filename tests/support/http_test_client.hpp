#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace voicegate::test {

/// A response as seen by a test client. Header names are lowercase.
struct HttpResult {
    int status = 0;  // 0 when the connection failed (see error)
    std::multimap<std::string, std::string> headers;
    std::string body;
    std::string error;  // transport error, empty on success

    /// The first header named `name` (lowercase) or "".
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

/// A blocking HTTP/1.1 client for tests: one request per connection, real sockets.
/// Thread-safe (no shared state).
HttpResult http_request(const std::string& host, std::uint16_t port, const std::string& method,
                        const std::string& target, const std::string& body = {},
                        const std::vector<std::pair<std::string, std::string>>& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// POSTs `json` with Content-Type: application/json.
HttpResult post_json(std::uint16_t port, const std::string& target, const std::string& json,
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace voicegate::test
