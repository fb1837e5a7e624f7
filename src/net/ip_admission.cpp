#include "net/ip_admission.hpp"

namespace voicegate::net {

std::string IpAdmission::client_ip(
    std::string_view peer, const std::vector<std::pair<std::string, std::string>>& headers) const {
    if (trusted_.empty()) {
        return std::string(peer);
    }
    std::vector<std::string_view> xff;
    for (const auto& [k, v] : headers) {
        if (k == "x-forwarded-for") {
            xff.emplace_back(v);
        }
    }
    if (xff.empty()) {
        return std::string(peer);
    }
    return resolve_client_ip(peer, xff, trusted_);
}

Result<void> IpAdmission::admit(std::string_view client_ip) const {
    if (!rules_.allowed(client_ip)) {
        return fail(Error::ip_denied, {}, "address " + std::string(client_ip) + " is denied");
    }
    return {};
}

}  // namespace voicegate::net
