#include "net/client_ip.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace voicegate::net {
namespace {

CidrList list(std::string_view text) {
    auto l = CidrList::parse(text);
    EXPECT_TRUE(l) << l.error().message;
    return l ? *l : CidrList{};
}

struct XffCase {
    const char* name;
    const char* peer;
    std::vector<std::string_view> xff;
    const char* trusted;
    const char* expected;
};

class ResolveClientIp : public ::testing::TestWithParam<XffCase> {};

TEST_P(ResolveClientIp, Resolves) {
    const auto& c = GetParam();
    EXPECT_EQ(resolve_client_ip(c.peer, c.xff, list(c.trusted)), c.expected) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ResolveClientIp,
    ::testing::Values(
        XffCase{"no proxies, no header", "203.0.113.7", {}, "", "203.0.113.7"},
        XffCase{"spoofed XFF from an untrusted peer is ignored",
                "203.0.113.7",
                {"1.1.1.1"},
                "10.0.0.0/8",
                "203.0.113.7"},
        XffCase{"spoofed XFF with no trusted proxies configured",
                "203.0.113.7",
                {"1.1.1.1, 10.0.0.1"},
                "",
                "203.0.113.7"},
        XffCase{
            "trusted peer, one hop", "10.0.0.2", {"198.51.100.9"}, "10.0.0.0/8", "198.51.100.9"},
        XffCase{"trusted peer without header", "10.0.0.2", {}, "10.0.0.0/8", "10.0.0.2"},
        XffCase{"trusted peer with empty header", "10.0.0.2", {""}, "10.0.0.0/8", "10.0.0.2"},
        XffCase{"client-supplied left part is not believed",
                "10.0.0.2",
                {"6.6.6.6, 198.51.100.9"},
                "10.0.0.0/8",
                "198.51.100.9"},
        XffCase{"chain through several trusted proxies",
                "10.0.0.2",
                {"6.6.6.6, 198.51.100.9, 172.16.0.5, 10.0.0.3"},
                "10.0.0.0/8, 172.16.0.0/12",
                "198.51.100.9"},
        XffCase{"multiple headers are one list in order",
                "10.0.0.2",
                {"6.6.6.6, 198.51.100.9", "172.16.0.5", "10.0.0.3"},
                "10.0.0.0/8, 172.16.0.0/12",
                "198.51.100.9"},
        XffCase{"client hop in the first of several headers",
                "10.0.0.2",
                {"198.51.100.9", "10.0.0.4, 10.0.0.3"},
                "10.0.0.0/8",
                "198.51.100.9"},
        XffCase{"all hops trusted: the left-most one",
                "10.0.0.2",
                {"10.0.0.9, 10.0.0.3"},
                "10.0.0.0/8",
                "10.0.0.9"},
        XffCase{"malformed right-most entry: the peer",
                "10.0.0.2",
                {"6.6.6.6, unknown"},
                "10.0.0.0/8",
                "10.0.0.2"},
        XffCase{"malformed entry stops the walk at the last good trusted hop",
                "10.0.0.2",
                {"6.6.6.6, garbage, 10.0.0.7"},
                "10.0.0.0/8",
                "10.0.0.7"},
        XffCase{"injection attempt with spaces and junk",
                "10.0.0.2",
                {"1.2.3.4 5.6.7.8, 198.51.100.9"},
                "10.0.0.0/8",
                "198.51.100.9"},
        XffCase{"empty list elements are skipped",
                "10.0.0.2",
                {" , 198.51.100.9 ,, "},
                "10.0.0.0/8",
                "198.51.100.9"},
        XffCase{"ports and brackets are stripped",
                "10.0.0.2",
                {"198.51.100.9:5555"},
                "10.0.0.0/8",
                "198.51.100.9"},
        XffCase{"IPv6 hop with brackets and port",
                "10.0.0.2",
                {"[2001:db8::7]:443"},
                "10.0.0.0/8",
                "2001:db8::7"},
        XffCase{"IPv6 proxies and client",
                "2001:db8:ffff::1",
                {"2001:db8:1::42, 2001:db8:ffff::2"},
                "2001:db8:ffff::/48",
                "2001:db8:1::42"},
        XffCase{
            "IPv6 client canonicalised", "::1", {"2001:DB8:0:0:0:0:0:42"}, "::1", "2001:db8::42"},
        XffCase{"IPv4-mapped peer matches IPv4 trust and is shown as IPv4",
                "::ffff:10.0.0.2",
                {"::ffff:198.51.100.9"},
                "10.0.0.0/8",
                "198.51.100.9"},
        XffCase{"IPv4-mapped untrusted peer",
                "::ffff:203.0.113.7",
                {"1.1.1.1"},
                "10.0.0.0/8",
                "203.0.113.7"},
        XffCase{"loopback proxy", "127.0.0.1", {"198.51.100.9"}, "127.0.0.1, ::1", "198.51.100.9"},
        XffCase{
            "bad port is malformed", "10.0.0.2", {"198.51.100.9:99999"}, "10.0.0.0/8", "10.0.0.2"},
        XffCase{"IPv6 with a bare port is malformed",
                "10.0.0.2",
                {"[2001:db8::7]:x"},
                "10.0.0.0/8",
                "10.0.0.2"}),
    [](const auto& test_info) { return "case_" + std::to_string(test_info.index); });

TEST(ResolveClientIpEdge, UnparsablePeerIsReturnedAsIs) {
    const std::vector<std::string_view> xff{"1.2.3.4"};
    EXPECT_EQ(resolve_client_ip("unix:/tmp/sock", xff, list("0.0.0.0/0")), "unix:/tmp/sock");
}

TEST(ResolveClientIpEdge, LongHeadersAreWalkedWithoutRecursionOrCopies) {
    std::string long_chain;
    for (int i = 0; i < 2000; ++i) {
        long_chain += "10.0.0." + std::to_string(i % 250) + ", ";
    }
    long_chain = "198.51.100.9, " + long_chain + "10.0.0.1";
    const std::vector<std::string_view> xff{long_chain};
    EXPECT_EQ(resolve_client_ip("10.0.0.2", xff, list("10.0.0.0/8")), "198.51.100.9");
}

TEST(ParseForwardedHop, Forms) {
    EXPECT_EQ(parse_forwarded_hop("1.2.3.4")->to_string(), "1.2.3.4");
    EXPECT_EQ(parse_forwarded_hop(" 1.2.3.4 ")->to_string(), "1.2.3.4");
    EXPECT_EQ(parse_forwarded_hop("1.2.3.4:80")->to_string(), "1.2.3.4");
    EXPECT_EQ(parse_forwarded_hop("[::1]")->to_string(), "::1");
    EXPECT_EQ(parse_forwarded_hop("[::1]:8080")->to_string(), "::1");
    EXPECT_EQ(parse_forwarded_hop("2001:db8::1")->to_string(), "2001:db8::1");
    for (const char* bad : {"", "unknown", "_hidden", "1.2.3.4:", "1.2.3.4:-1", "[::1", "[::1]x",
                            "[1.2.3.4", "::1:80x", "1.2.3.4:80:90"}) {
        EXPECT_FALSE(parse_forwarded_hop(bad).has_value()) << bad;
    }
}

TEST(IpRules, DenyWinsThenAllowListApplies) {
    auto rules = IpRules::parse("10.0.0.0/8, 2001:db8::/32", "10.6.6.0/24");
    ASSERT_TRUE(rules) << rules.error().message;
    EXPECT_TRUE(rules->allowed("10.1.2.3"));
    EXPECT_TRUE(rules->allowed("::ffff:10.1.2.3"));
    EXPECT_FALSE(rules->allowed("10.6.6.6"));  // denied although allowed
    EXPECT_FALSE(rules->allowed("::ffff:10.6.6.6"));
    EXPECT_FALSE(rules->allowed("8.8.8.8"));  // not in a non-empty allow list
    EXPECT_TRUE(rules->allowed("2001:db8::5"));
    EXPECT_FALSE(rules->allowed("2001:db9::5"));
    EXPECT_FALSE(rules->allowed("garbage"));
}

TEST(IpRules, EmptyListsAllowEverything) {
    auto rules = IpRules::parse("", "");
    ASSERT_TRUE(rules);
    EXPECT_TRUE(rules->allowed("8.8.8.8"));
    EXPECT_TRUE(rules->allowed("::1"));
    EXPECT_TRUE(rules->allowed("garbage"));  // nothing to enforce

    auto deny_only = IpRules::parse("", "203.0.113.0/24");
    ASSERT_TRUE(deny_only);
    EXPECT_TRUE(deny_only->allowed("8.8.8.8"));
    EXPECT_FALSE(deny_only->allowed("203.0.113.1"));
    EXPECT_FALSE(deny_only->allowed("garbage"));  // fail closed once rules exist
}

// Probe 2026-12: per-IP limits were keyed per IPv6 address, so 2001:db8::1..4 got four buckets.
TEST(RateLimitKey, Ipv6CountsPerSlash64AndIpv4PerAddress) {
    EXPECT_EQ(rate_limit_key("2001:db8::1"), "2001:db8::/64");
    EXPECT_EQ(rate_limit_key("2001:db8::4"), "2001:db8::/64");
    EXPECT_EQ(rate_limit_key("2001:db8::ffff:ffff:ffff:ffff"), "2001:db8::/64");
    EXPECT_EQ(rate_limit_key("2001:db8:0:1::1"), "2001:db8:0:1::/64");
    EXPECT_EQ(rate_limit_key("203.0.113.7"), "203.0.113.7");
    EXPECT_NE(rate_limit_key("203.0.113.7"), rate_limit_key("203.0.113.8"));
    EXPECT_EQ(rate_limit_key("::ffff:203.0.113.7"), "203.0.113.7");
    EXPECT_EQ(rate_limit_key("not-an-ip"), "not-an-ip");
}

TEST(IpRules, ErrorsNameTheVariable) {
    auto bad_allow = IpRules::parse("10.0.0.0/99", "");
    ASSERT_FALSE(bad_allow);
    EXPECT_EQ(bad_allow.error().message.rfind("VOICEGATE_IP_ALLOW: entry 1", 0), 0U)
        << bad_allow.error().message;
    auto bad_deny = IpRules::parse("", "1.2.3.4, nope");
    ASSERT_FALSE(bad_deny);
    EXPECT_EQ(bad_deny.error().message.rfind("VOICEGATE_IP_DENY: entry 2", 0), 0U)
        << bad_deny.error().message;
}

}  // namespace
}  // namespace voicegate::net
