#include "net/cidr.hpp"

#include <charconv>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/text.hpp"

namespace voicegate::net {
namespace {

constexpr std::array<std::uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};


std::string shown(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) {
        out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
    }
    return out;
}

// Zeroes the bits after `prefix` (in the family's width).
IpAddress masked(const IpAddress& a, int prefix) {
    IpAddress out = a;
    const int width = a.v4 ? 32 : 128;
    for (int bit = prefix; bit < width; ++bit) {
        out.bytes[static_cast<std::size_t>(bit / 8)] &=
            static_cast<std::uint8_t>(~(0x80U >> static_cast<unsigned>(bit % 8)));
    }
    return out;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (const auto pct = text.find('%'); pct != std::string_view::npos) {
        if (text.find(':') == std::string_view::npos || pct + 1 == text.size()) {
            return std::nullopt;  // zones exist only on IPv6 and are never empty
        }
        text = text.substr(0, pct);
    }
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
        return std::nullopt;
    }
    // inet_pton needs a NUL-terminated string.
    std::array<char, INET6_ADDRSTRLEN> buf{};
    std::memcpy(buf.data(), text.data(), text.size());
    IpAddress out;
    if (text.find(':') == std::string_view::npos) {
        in_addr a4{};
        if (inet_pton(AF_INET, buf.data(), &a4) != 1) {
            return std::nullopt;
        }
        std::memcpy(out.bytes.data(), &a4, 4);
        out.v4 = true;
        return out;
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, buf.data(), &a6) != 1) {
        return std::nullopt;
    }
    std::memcpy(out.bytes.data(), &a6, 16);
    out.v4 = false;
    if (std::memcmp(out.bytes.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0) {
        IpAddress v4;
        std::memcpy(v4.bytes.data(), out.bytes.data() + 12, 4);
        v4.v4 = true;
        return v4;
    }
    return out;
}

std::string IpAddress::to_string() const {
    std::array<char, INET6_ADDRSTRLEN> buf{};
    if (v4) {
        in_addr a4{};
        std::memcpy(&a4, bytes.data(), 4);
        inet_ntop(AF_INET, &a4, buf.data(), buf.size());
    } else {
        in6_addr a6{};
        std::memcpy(&a6, bytes.data(), 16);
        inet_ntop(AF_INET6, &a6, buf.data(), buf.size());
    }
    return buf.data();
}

Result<Cidr> Cidr::parse(std::string_view text) {
    text = trim_view(text);
    const auto slash = text.find('/');
    const auto addr_text = text.substr(0, slash);
    if (addr_text.find('%') != std::string_view::npos) {
        return fail(Error::bad_request, "'" + shown(text) + "': zone ids are not allowed");
    }
    auto addr = IpAddress::parse(addr_text);
    if (!addr) {
        return fail(Error::bad_request, "'" + shown(text) + "' is not an IPv4/IPv6 address");
    }
    // An address written as IPv6 but inside ::ffff:0:0/96 parsed as IPv4.
    const bool written_v6 = addr_text.find(':') != std::string_view::npos;
    const int written_width = written_v6 ? 128 : 32;
    int prefix = written_width;
    if (slash != std::string_view::npos) {
        const auto p = text.substr(slash + 1);
        const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
        if (p.empty() || p.front() < '0' || p.front() > '9' || ec != std::errc() ||
            end != p.data() + p.size()) {
            return fail(Error::bad_request, "'" + shown(text) + "': prefix length is not a number");
        }
        if (prefix < 0 || prefix > written_width) {
            return fail(Error::bad_request, "'" + shown(text) + "': prefix length must be 0.." +
                                                std::to_string(written_width) +
                                                (written_v6 ? " for IPv6" : " for IPv4"));
        }
    }
    Cidr out;
    if (written_v6 && addr->v4) {
        if (prefix < 96) {
            // Wider than the mapped range: keep it as the IPv6 block it was written as.
            out.base = IpAddress{};
            out.base.v4 = false;
            std::memcpy(out.base.bytes.data(), kMappedPrefix.data(), kMappedPrefix.size());
            std::memcpy(out.base.bytes.data() + 12, addr->bytes.data(), 4);
        } else {
            out.base = *addr;
            prefix -= 96;
        }
    } else {
        out.base = *addr;
    }
    out.prefix = prefix;
    const IpAddress network = masked(out.base, out.prefix);
    if (network != out.base) {
        Cidr suggestion{network, out.prefix};
        return fail(Error::bad_request, "'" + shown(text) + "' has host bits set; did you mean " +
                                            suggestion.to_string() + "?");
    }
    return out;
}

bool Cidr::contains(const IpAddress& addr) const {
    if (addr.v4 != base.v4) {
        return false;
    }
    return masked(addr, prefix) == base;
}

std::string Cidr::to_string() const {
    return base.to_string() + "/" + std::to_string(prefix);
}

Result<CidrList> CidrList::parse(std::string_view comma_separated) {
    std::vector<Cidr> blocks;
    std::size_t index = 0;
    std::size_t start = 0;
    while (start <= comma_separated.size()) {
        auto comma = comma_separated.find(',', start);
        if (comma == std::string_view::npos) {
            comma = comma_separated.size();
        }
        const auto entry = trim_view(comma_separated.substr(start, comma - start));
        start = comma + 1;
        if (entry.empty()) {
            continue;
        }
        ++index;
        auto block = Cidr::parse(entry);
        if (!block) {
            return fail(Error::bad_request,
                        "entry " + std::to_string(index) + " " + block.error().message);
        }
        blocks.push_back(*block);
    }
    return CidrList(std::move(blocks));
}

bool CidrList::contains(const IpAddress& addr) const {
    for (const auto& b : blocks_) {
        if (b.contains(addr)) {
            return true;
        }
    }
    return false;
}

bool CidrList::contains(std::string_view addr) const {
    const auto a = IpAddress::parse(addr);
    return a && contains(*a);
}

}  // namespace voicegate::net
