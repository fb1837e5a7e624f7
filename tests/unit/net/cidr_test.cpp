#include "net/cidr.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace voicegate::net {
namespace {

TEST(IpAddress, ParsesAndCanonicalises) {
    struct Case {
        const char* in;
        const char* out;
        bool v4;
    };
    for (const auto& c : std::vector<Case>{
             {"1.2.3.4", "1.2.3.4", true},
             {"255.255.255.255", "255.255.255.255", true},
             {"::1", "::1", false},
             {"2001:DB8:0:0:0:0:0:1", "2001:db8::1", false},
             {"2001:db8::1:0:0:1", "2001:db8::1:0:0:1", false},
             {"::ffff:1.2.3.4", "1.2.3.4", true},
             {"::FFFF:0102:0304", "1.2.3.4", true},
             {"fe80::1%eth0", "fe80::1", false},
             {"::", "::", false},
         }) {
        auto a = IpAddress::parse(c.in);
        ASSERT_TRUE(a.has_value()) << c.in;
        EXPECT_EQ(a->to_string(), c.out) << c.in;
        EXPECT_EQ(a->v4, c.v4) << c.in;
    }
}

TEST(IpAddress, RejectsNonAddresses) {
    for (const char* bad : {"", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1",
                            "01.2.3.4", "1.2.3.4:80", "[::1]", "::1::", "gggg::1", "unknown",
                            "1.2.3.4%eth0", "fe80::1%", "localhost", "0x7f.0.0.1"}) {
        EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
    }
}

TEST(Cidr, ParsesBlocksAndBareAddresses) {
    struct Case {
        const char* in;
        const char* canonical;
    };
    for (const auto& c : std::vector<Case>{
             {"10.0.0.0/8", "10.0.0.0/8"},
             {"192.168.1.0/24", "192.168.1.0/24"},
             {"1.2.3.4", "1.2.3.4/32"},
             {"0.0.0.0/0", "0.0.0.0/0"},
             {"::1/128", "::1/128"},
             {"::1", "::1/128"},
             {"2001:db8::/32", "2001:db8::/32"},
             {"::/0", "::/0"},
             {"::ffff:10.0.0.0/104", "10.0.0.0/8"},
             {"::ffff:1.2.3.4", "1.2.3.4/32"},
             {" 10.0.0.0/8 ", "10.0.0.0/8"},
         }) {
        auto b = Cidr::parse(c.in);
        ASSERT_TRUE(b) << c.in << ": " << b.error().message;
        EXPECT_EQ(b->to_string(), c.canonical) << c.in;
    }
}

TEST(Cidr, ExplainsWhatIsWrong) {
    struct Case {
        const char* in;
        const char* says;
    };
    for (const auto& c : std::vector<Case>{
             {"10.0.0.0/33", "prefix length must be 0..32 for IPv4"},
             {"::/129", "prefix length must be 0..128 for IPv6"},
             {"10.0.0.0/-1", "prefix length is not a number"},
             {"10.0.0.0/", "prefix length is not a number"},
             {"10.0.0.0/8x", "prefix length is not a number"},
             {"10.0.0.0/ 8", "prefix length is not a number"},
             {"10.0.0/8", "is not an IPv4/IPv6 address"},
             {"example.com/8", "is not an IPv4/IPv6 address"},
             {"", "is not an IPv4/IPv6 address"},
             {"10.1.0.0/8", "host bits set; did you mean 10.0.0.0/8?"},
             {"2001:db8::1/32", "did you mean 2001:db8::/32?"},
             {"fe80::%eth0/64", "zone ids are not allowed"},
         }) {
        auto b = Cidr::parse(c.in);
        ASSERT_FALSE(b) << c.in;
        EXPECT_NE(b.error().message.find(c.says), std::string::npos)
            << c.in << " -> " << b.error().message;
    }
}

TEST(Cidr, ContainsTableDriven) {
    struct Case {
        const char* block;
        const char* addr;
        bool in;
    };
    for (const auto& c : std::vector<Case>{
             {"10.0.0.0/8", "10.0.0.0", true},
             {"10.0.0.0/8", "10.255.255.255", true},
             {"10.0.0.0/8", "11.0.0.0", false},
             {"10.0.0.0/8", "9.255.255.255", false},
             {"192.168.1.128/25", "192.168.1.200", true},
             {"192.168.1.128/25", "192.168.1.127", false},
             {"1.2.3.4", "1.2.3.4", true},
             {"1.2.3.4", "1.2.3.5", false},
             {"0.0.0.0/0", "8.8.8.8", true},
             // IPv4-mapped IPv6 addresses match IPv4 rules.
             {"10.0.0.0/8", "::ffff:10.1.2.3", true},
             {"1.2.3.4/32", "::ffff:1.2.3.4", true},
             {"::ffff:10.0.0.0/104", "10.9.9.9", true},
             // Families never cross.
             {"0.0.0.0/0", "::1", false},
             {"::/0", "1.2.3.4", false},
             {"::/0", "::ffff:1.2.3.4", false},
             {"::/0", "2001:db8::1", true},
             {"::1/128", "::1", true},
             {"::1/128", "::2", false},
             {"2001:db8::/32", "2001:db8:ffff::1", true},
             {"2001:db8::/32", "2001:db9::1", false},
             {"2001:db8::/31", "2001:db9::1", true},
             {"fe80::/10", "fe80::1%eth0", true},
             {"fe80::/10", "febf::1", true},
             {"fe80::/10", "fec0::1", false},
         }) {
        auto b = Cidr::parse(c.block);
        ASSERT_TRUE(b) << c.block;
        auto a = IpAddress::parse(c.addr);
        ASSERT_TRUE(a.has_value()) << c.addr;
        EXPECT_EQ(b->contains(*a), c.in) << c.block << " ∋ " << c.addr;
    }
}

TEST(CidrList, ParsesCommaSeparatedLists) {
    auto l = CidrList::parse(" 10.0.0.0/8, 192.168.0.0/16 ,::1,, ");
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(l->blocks().size(), 3U);
    EXPECT_TRUE(l->contains("10.1.1.1"));
    EXPECT_TRUE(l->contains("192.168.5.5"));
    EXPECT_TRUE(l->contains("::1"));
    EXPECT_TRUE(l->contains("::ffff:10.0.0.1"));
    EXPECT_FALSE(l->contains("172.16.0.1"));
    EXPECT_FALSE(l->contains("not an ip"));

    auto empty = CidrList::parse("");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
    EXPECT_FALSE(empty->contains("1.2.3.4"));
}

TEST(CidrList, NamesTheBadEntry) {
    auto l = CidrList::parse("10.0.0.0/8, 300.0.0.0/8, ::1");
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, Error::bad_request);
    EXPECT_NE(l.error().message.find("entry 2 '300.0.0.0/8'"), std::string::npos)
        << l.error().message;
}

}  // namespace
}  // namespace voicegate::net
