// The value parsers behind single settings and the URLs the service connects to: rates
// (VOICEGATE_RATE_*), REDIS_URL (and the redaction of URLs that do not parse), listen
// addresses and alert rules. (The http(s) URLs are checked by load_config, fuzzed in the
// config target; upstream::parse_base_url lives with the Asio client, which clang 14 cannot
// build with coverage instrumentation.) Input: a mode byte, then the value.
#include <cstdint>

#include "core/config.hpp"
#include "ratelimit/gcra.hpp"
#include "ratelimit/redis_url.hpp"
#include "targets/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace voicegate;
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    switch (mode % 4) {
        case 0: {
            if (const auto rate = ratelimit::parse_rate(text)) {
                (void)rate->window_s();
                // The canonical text reads back as the same rate.
                const auto again = ratelimit::parse_rate(rate->to_string());
                if (!again || !(*again == *rate)) {
                    __builtin_trap();
                }
                (void)ratelimit::decide(0, 1'000'000, *rate);
            }
            break;
        }
        case 1: {
            if (const auto url = ratelimit::parse_redis_url(text)) {
                (void)url->redacted();
            }
            (void)ratelimit::redact_url_text(text);
            break;
        }
        case 2: {
            std::string host;
            std::uint16_t port = 0;
            if (config::parse_listen(std::string(text), host, port)) {
                (void)config::is_loopback(host);
            }
            break;
        }
        default: {
            config::AlertRule rule;
            (void)config::parse_alert_rule(std::string(text),
                                           {"window_s", "factor", "floor", "max", "ratio"}, rule);
            break;
        }
    }
    return 0;
}
