#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "net/cidr.hpp"
#include "net/client_ip.hpp"

namespace voicegate::net {

/// Which client may come in (SPEC §4): the client address resolved behind the trusted proxies,
/// then the allow / deny lists applied to it.
/// Thread safety: a plain value, immutable after construction; safe to share.
class IpAdmission {
public:
    /// Admits everyone, trusting no proxy.
    IpAdmission() = default;
    /// `trusted_proxies`: the peers whose X-Forwarded-For is believed; `rules`: allow / deny.
    IpAdmission(CidrList trusted_proxies, IpRules rules)
        : trusted_(std::move(trusted_proxies)), rules_(std::move(rules)) {}

    /// The client address of a request from `peer` with these (lower-case named) `headers`:
    /// the peer itself unless it is a trusted proxy, then resolve_client_ip over every
    /// X-Forwarded-For header. Pure.
    std::string client_ip(std::string_view peer,
                          const std::vector<std::pair<std::string, std::string>>& headers) const;

    /// Refuses an address the rules deny (403 `ip_denied`, the address only in the details).
    /// Pure.
    Result<void> admit(std::string_view client_ip) const;

private:
    CidrList trusted_;
    IpRules rules_;
};

}  // namespace voicegate::net
