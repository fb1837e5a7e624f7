#include "net/ip_admission.hpp"

#include <gtest/gtest.h>

#include "api/access_config.hpp"

namespace voicegate::net {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

IpAdmission admission(const std::string& trusted, const std::string& allow,
                      const std::string& deny) {
    config::LimitsConfig limits;
    auto proxies = CidrList::parse(trusted);
    auto rules = IpRules::parse(allow, deny);
    EXPECT_TRUE(proxies && rules);
    limits.trusted_proxies = *proxies;
    limits.ip_rules = *rules;
    return api::ip_admission_from(limits);
}

TEST(IpAdmission, ByDefaultEveryoneIsAdmittedAndForwardedForIsIgnored) {
    const IpAdmission open;
    const Headers xff{{"x-forwarded-for", "203.0.113.9"}};
    EXPECT_EQ(open.client_ip("192.0.2.1", xff), "192.0.2.1");
    EXPECT_TRUE(open.admit("192.0.2.1"));
    EXPECT_TRUE(open.admit("not an address")) << "both lists empty";
}

TEST(IpAdmission, ForwardedForIsBelievedOnlyFromTrustedProxies) {
    const auto a = admission("10.0.0.0/8", "", "");
    const Headers xff{{"x-forwarded-for", "203.0.113.9, 10.1.1.1"},
                      {"user-agent", "test"},
                      {"x-forwarded-for", "10.2.2.2"}};
    EXPECT_EQ(a.client_ip("10.0.0.1", xff), "203.0.113.9") << "every header, right to left";
    EXPECT_EQ(a.client_ip("192.0.2.1", xff), "192.0.2.1") << "an untrusted peer";
    EXPECT_EQ(a.client_ip("10.0.0.1", {}), "10.0.0.1") << "no header";
}

TEST(IpAdmission, DenyWinsAndAnAllowListAdmitsOnlyItsMembers) {
    const auto a = admission("", "192.0.2.0/24", "192.0.2.7");
    EXPECT_TRUE(a.admit("192.0.2.1"));
    auto denied = a.admit("192.0.2.7");
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().code, Error::ip_denied);
    EXPECT_EQ(denied.error().details, "address 192.0.2.7 is denied");
    EXPECT_FALSE(a.admit("198.51.100.1"));
}

// The lists are parsed once, when the configuration loads: a bad one is a config error naming
// its setting, so the service does not start.
TEST(IpAdmission, BadListsFailAtStartUp) {
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"VOICEGATE_TRUSTED_PROXIES", "10.0.0.0/33"}, {"VOICEGATE_IP_DENY", "nope"}}) {
        config::Sources s;
        s.env = {{name, value}};
        auto loaded = config::load_config(s);
        EXPECT_FALSE(loaded.config.has_value()) << name;
        ASSERT_FALSE(loaded.errors.empty()) << name;
        EXPECT_EQ(loaded.errors[0].rfind(name, 0), 0U) << loaded.errors[0];
    }
}

}  // namespace
}  // namespace voicegate::net
