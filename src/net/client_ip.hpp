#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "net/cidr.hpp"

namespace voicegate::net {

/// Parses one X-Forwarded-For hop: a bare address, `1.2.3.4:port`, `[v6]` or `[v6]:port`
/// (some proxies append ports). Anything else (`unknown`, obfuscated identifiers, garbage)
/// is nullopt. Pure; thread-safe.
[[nodiscard]] std::optional<IpAddress> parse_forwarded_hop(std::string_view hop);

/// The client address of a request (SPEC §4): the socket `peer`, or — only when the peer is a
/// trusted proxy — the right-most X-Forwarded-For hop that is not itself a trusted proxy.
///
/// `x_forwarded_for` holds the values of every X-Forwarded-For header in arrival order; they
/// are read as one comma-separated list. The walk goes right to left, skipping trusted hops;
/// empty entries are ignored; a malformed entry stops the walk, and the last good address
/// (the nearest trusted hop, or the peer) is the answer, so a client can never inject an
/// address by sending garbage. If every hop is trusted, the left-most one is the answer.
/// The result is canonical text (`IpAddress::to_string`), so IPv4-mapped peers become IPv4;
/// an unparsable peer is returned unchanged. Pure; thread-safe.
std::string resolve_client_ip(std::string_view peer,
                              std::span<const std::string_view> x_forwarded_for,
                              const CidrList& trusted_proxies);

/// The key under which per-client-IP limits count `client_ip` (resolve_client_ip's answer):
/// an IPv4 address as itself, an IPv6 address as its /64 (`2001:db8::/64`), the block one
/// subscriber usually gets, so rotating addresses inside it does not buy fresh buckets.
/// IPv4-mapped IPv6 counts as IPv4. Text that is not an address is returned unchanged. Pure.
std::string rate_limit_key(std::string_view client_ip);

/// Allow and deny lists applied to every route (SPEC §2.1 VOICEGATE_IP_ALLOW / _DENY).
/// Plain value; thread-safe to share.
struct IpRules {
    CidrList allow;  // empty: every address not denied is allowed
    CidrList deny;

    /// Parses both comma-separated lists; errors name the list ("VOICEGATE_IP_DENY: entry 2
    /// ..."). Pure.
    [[nodiscard]] static Result<IpRules> parse(std::string_view allow_list,
                                               std::string_view deny_list);

    /// Deny wins; then, if the allow list is non-empty, the address must be in it. Pure.
    bool allowed(const IpAddress& addr) const;
    /// Same for text. An unparsable address is refused unless both lists are empty. Pure.
    bool allowed(std::string_view addr) const;

    friend bool operator==(const IpRules&, const IpRules&) = default;
};

}  // namespace voicegate::net
