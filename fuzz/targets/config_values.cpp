// The value parsers behind single settings: rates (VOICEGATE_RATE_*), REDIS_URL (and the
// redaction of URLs that do not parse), listen addresses, alert rules, and the emulator's
// options (`voicegate emulate` arguments, one a line, and the same lines as the NAME=VALUE
// settings of the [emulator] table). The http(s) URLs are checked by load_config (the config
// target); upstream::parse_base_url lives with the Asio client, which clang 14 cannot compile
// with coverage instrumentation (coroutines: "cannot represent a difference across sections").
// Input: a mode byte ('0' rate, '1' REDIS_URL, '2' listen, '3' alert rule, '4' emulator
// options), then the value.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "emulator/options.hpp"
#include "net/listen.hpp"
#include "ratelimit/gcra.hpp"
#include "ratelimit/redis_url.hpp"
#include "targets/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace voicegate;
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    // Counted from '0' so that the seeds' mode bytes are the digits 0..4.
    switch (static_cast<std::uint8_t>(mode - '0') % 5) {
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
            if (net::parse_listen(std::string(text), host, port)) {
                (void)net::is_loopback(host);
            }
            break;
        }
        case 4: {
            std::vector<std::string> args;
            std::map<std::string, std::string> settings;
            for (const auto line : fuzz::split(text, '\n')) {
                args.emplace_back(line);
                const auto eq = line.find('=');
                settings[std::string(line.substr(0, eq))] =
                    eq == std::string_view::npos ? std::string() : std::string(line.substr(eq + 1));
            }
            emulator::EmulatorOptions from_args;
            (void)emulator::parse_emulator_args(args, from_args);
            emulator::EmulatorOptions from_settings;
            (void)emulator::apply_emulator_options(settings, from_settings);
            (void)emulator::faults_to_json(from_settings.faults);
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
