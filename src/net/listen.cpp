#include "net/listen.hpp"

#include <charconv>

namespace voicegate::net {

bool is_loopback(const std::string& host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") {
        return true;
    }
    return host.starts_with("127.");
}

bool parse_listen(const std::string& text, std::string& host, std::uint16_t& port) {
    std::string h;
    std::string p;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return false;
        }
        h = text.substr(1, close - 1);
        p = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon) {
            return false;
        }
        h = text.substr(0, colon);
        p = text.substr(colon + 1);
    }
    int n = 0;
    const auto* end = p.data() + p.size();
    auto [ptr, ec] = std::from_chars(p.data(), end, n);
    if (h.empty() || ec != std::errc() || ptr != end || n < 0 || n > 65535) {
        return false;
    }
    host = h;
    port = static_cast<std::uint16_t>(n);
    return true;
}

}  // namespace voicegate::net
