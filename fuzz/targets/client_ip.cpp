// Client addresses (src/net): IP addresses and CIDR blocks (VOICEGATE_TRUSTED_PROXIES,
// VOICEGATE_IP_ALLOW / _DENY), X-Forwarded-For hops and the client-IP resolution the server
// does for every request. Input: a mode byte, then:
//   mode % 4 == 0: an address (IpAddress::parse; its canonical text must parse back equal)
//   mode % 4 == 1: a CIDR list (CidrList::parse; each block's text parses back equal)
//   mode % 4 == 2: one X-Forwarded-For hop (parse_forwarded_hop)
//   mode % 4 == 3: "PEER\nTRUSTED\nALLOW\nDENY\nXFF..." (resolve_client_ip, IpRules); every
//                  further line is one X-Forwarded-For header value
#include <cstdint>
#include <vector>

#include "net/cidr.hpp"
#include "net/client_ip.hpp"
#include "targets/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace voicegate;
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    switch (mode % 4) {
        case 0: {
            if (const auto ip = net::IpAddress::parse(text)) {
                const auto again = net::IpAddress::parse(ip->to_string());
                if (!again || !(*again == *ip)) {
                    __builtin_trap();
                }
            }
            break;
        }
        case 1: {
            if (const auto list = net::CidrList::parse(text)) {
                for (const auto& block : list->blocks()) {
                    const auto again = net::Cidr::parse(block.to_string());
                    if (!again || !(again->base == block.base) || again->prefix != block.prefix ||
                        !block.contains(block.base)) {
                        __builtin_trap();
                    }
                }
            }
            break;
        }
        case 2: {
            if (const auto ip = net::parse_forwarded_hop(text)) {
                (void)ip->to_string();
            }
            break;
        }
        default: {
            const auto lines = fuzz::split(text, '\n');
            const auto line = [&](std::size_t i) {
                return i < lines.size() ? lines[i] : std::string_view();
            };
            const auto trusted = net::CidrList::parse(line(1));
            std::vector<std::string_view> xff;
            for (std::size_t i = 4; i < lines.size(); ++i) {
                xff.push_back(lines[i]);
            }
            const auto client =
                net::resolve_client_ip(line(0), xff, trusted ? *trusted : net::CidrList());
            if (const auto rules = net::IpRules::parse(line(2), line(3))) {
                (void)rules->allowed(client);
            }
            break;
        }
    }
    return 0;
}
