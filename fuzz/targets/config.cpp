// Configuration as the service loads it (load_config: flags > environment > .env > TOML file >
// defaults, then validation of every setting: rates, CIDR lists, URLs, profiles, prices,
// alert rules, the [emulator] table). Input: a mode byte, then:
//   mode % 3 == 0: the TOML file's text
//   mode % 3 == 1: environment variables, one NAME=VALUE a line; a NAME the loader does not
//                  know is replaced by a known one (picked by its first byte), so every line
//                  reaches a setting
//   mode % 3 == 2: a .env file's text (parse_dotenv)
// mode & 4 additionally treats the environment lines as command-line flags (highest priority).
#include <cstdint>

#include "config/config.hpp"
#include "targets/fuzz_input.hpp"

namespace {

using namespace voicegate;

std::map<std::string, std::string> env_lines(std::string_view text) {
    static const auto& known = config::known_variables();
    std::map<std::string, std::string> env;
    for (const auto line : fuzz::split(text, '\n')) {
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        std::string name(line.substr(0, eq));
        bool is_known = false;
        for (const auto& [k, help] : known) {
            if (k == name) {
                is_known = true;
                break;
            }
        }
        if (!is_known && !known.empty()) {
            const auto pick = name.empty() ? 0U : static_cast<unsigned char>(name.front());
            name = known[pick % known.size()].first;
        }
        env[name] = std::string(line.substr(eq + 1));
    }
    return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    config::Sources sources;
    switch (mode % 3) {
        case 0:
            sources.toml_text = std::string(text);
            sources.toml_path = "fuzz.toml";
            break;
        case 1:
            if ((mode & 4) != 0) {
                sources.flags = env_lines(text);
            } else {
                sources.env = env_lines(text);
            }
            break;
        default:
            sources.dotenv = config::parse_dotenv(std::string(text));
            break;
    }
    const auto loaded = config::load_config(sources);
    if (loaded.config.has_value() == !loaded.errors.empty()) {
        __builtin_trap();  // a config comes exactly when there are no errors
    }
    return 0;
}
