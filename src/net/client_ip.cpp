#include "net/client_ip.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <charconv>

namespace voicegate::net {
namespace {


bool is_port(std::string_view p) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    return !p.empty() && ec == std::errc() && end == p.data() + p.size() && port <= 65535;
}

}  // namespace

std::optional<IpAddress> parse_forwarded_hop(std::string_view hop) {
    hop = trim_view(hop);
    if (hop.empty()) {
        return std::nullopt;
    }
    if (hop.front() == '[') {
        const auto close = hop.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        const auto rest = hop.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || !is_port(rest.substr(1)))) {
            return std::nullopt;
        }
        auto a = IpAddress::parse(hop.substr(1, close - 1));
        return a;
    }
    const auto colon = hop.find(':');
    if (colon != std::string_view::npos && hop.find(':', colon + 1) == std::string_view::npos) {
        // Exactly one colon: IPv4 with a port.
        if (!is_port(hop.substr(colon + 1))) {
            return std::nullopt;
        }
        auto a = IpAddress::parse(hop.substr(0, colon));
        if (!a || !a->v4) {
            return std::nullopt;
        }
        return a;
    }
    return IpAddress::parse(hop);
}

std::string resolve_client_ip(std::string_view peer,
                              std::span<const std::string_view> x_forwarded_for,
                              const CidrList& trusted_proxies) {
    const auto peer_addr = IpAddress::parse(peer);
    if (!peer_addr) {
        return std::string(peer);
    }
    IpAddress last_good = *peer_addr;
    if (!trusted_proxies.contains(last_good)) {
        return last_good.to_string();
    }
    // Walk every hop right to left: headers last to first, entries right to left in each.
    // Reverse iterators, not std::views::reverse: clang 14 cannot compile libstdc++ 12 ranges.
    // NOLINTNEXTLINE(modernize-loop-convert)
    for (auto header = x_forwarded_for.rbegin(); header != x_forwarded_for.rend(); ++header) {
        std::string_view list = *header;
        while (true) {
            const auto comma = list.rfind(',');
            const auto entry =
                trim_view(comma == std::string_view::npos ? list : list.substr(comma + 1));
            if (!entry.empty()) {
                const auto hop = parse_forwarded_hop(entry);
                if (!hop) {
                    return last_good.to_string();  // garbage: stop, trust nothing further left
                }
                last_good = *hop;
                if (!trusted_proxies.contains(*hop)) {
                    return hop->to_string();
                }
            }
            if (comma == std::string_view::npos) {
                break;
            }
            list = list.substr(0, comma);
        }
    }
    return last_good.to_string();
}

std::string rate_limit_key(std::string_view client_ip) {
    auto a = IpAddress::parse(client_ip);
    if (!a) {
        return std::string(client_ip);
    }
    if (a->v4) {
        return a->to_string();
    }
    std::fill(a->bytes.begin() + 8, a->bytes.end(), std::uint8_t{0});
    return a->to_string() + "/64";
}

Result<IpRules> IpRules::parse(std::string_view allow_list, std::string_view deny_list) {
    auto allow = CidrList::parse(allow_list);
    if (!allow) {
        return fail(Error::bad_request, "VOICEGATE_IP_ALLOW: " + allow.error().message);
    }
    auto deny = CidrList::parse(deny_list);
    if (!deny) {
        return fail(Error::bad_request, "VOICEGATE_IP_DENY: " + deny.error().message);
    }
    return IpRules{std::move(*allow), std::move(*deny)};
}

bool IpRules::allowed(const IpAddress& addr) const {
    if (deny.contains(addr)) {
        return false;
    }
    return allow.empty() || allow.contains(addr);
}

bool IpRules::allowed(std::string_view addr) const {
    const auto a = IpAddress::parse(addr);
    if (!a) {
        return allow.empty() && deny.empty();
    }
    return allowed(*a);
}

}  // namespace voicegate::net
