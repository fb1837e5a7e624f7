#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace voicegate::net {

/// An IPv4 or IPv6 address. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is normalised to IPv4, so it
/// matches IPv4 rules and renders as `1.2.3.4`. Plain value.
struct IpAddress {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4
    bool v4 = true;

    /// Parses a bare address: dotted IPv4 or RFC 4291 IPv6 text; an IPv6 zone (`%eth0`) is
    /// ignored. No brackets, no port, no surrounding spaces. Pure; thread-safe.
    [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text);

    /// Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, `::` compressed). Pure.
    std::string to_string() const;

    friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

/// An address block: `10.0.0.0/8`, `2001:db8::/32`; a bare address is /32 or /128.
/// IPv6 blocks inside `::ffff:0:0/96` become the matching IPv4 block. Plain value.
struct Cidr {
    IpAddress base;  // host bits are zero
    int prefix = 0;

    /// Parses one block. Errors say what is wrong: not an address, prefix not a number or out
    /// of range (0..32 / 0..128), or host bits set (`10.1.0.0/8` -> "did you mean
    /// 10.0.0.0/8?"). Pure; thread-safe.
    [[nodiscard]] static Result<Cidr> parse(std::string_view text);

    /// True if `addr` lies in this block. Families never cross: an IPv6 block (other than the
    /// mapped range above) never contains an IPv4 address. Pure.
    bool contains(const IpAddress& addr) const;

    /// Canonical text, `base/prefix`. Pure.
    std::string to_string() const;

    friend bool operator==(const Cidr&, const Cidr&) = default;
};

/// A list of blocks, e.g. trusted proxies or an allow list. Plain value; thread-safe to share.
class CidrList {
public:
    CidrList() = default;
    /// Takes already parsed blocks.
    explicit CidrList(std::vector<Cidr> blocks) : blocks_(std::move(blocks)) {}

    /// Parses a comma-separated list (spaces around entries are fine; empty entries are
    /// skipped, so "" is an empty list). The first bad entry fails the whole list with
    /// "entry N ('text'): reason". Pure; thread-safe.
    [[nodiscard]] static Result<CidrList> parse(std::string_view comma_separated);

    /// True if any block contains `addr`. Linear in the list size. Pure.
    bool contains(const IpAddress& addr) const;
    /// Parses `addr` and checks it; false if it does not parse. Pure.
    bool contains(std::string_view addr) const;

    bool empty() const { return blocks_.empty(); }
    const std::vector<Cidr>& blocks() const { return blocks_; }

    friend bool operator==(const CidrList&, const CidrList&) = default;

private:
    std::vector<Cidr> blocks_;
};

}  // namespace voicegate::net
