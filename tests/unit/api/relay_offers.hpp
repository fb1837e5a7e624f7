#pragma once

#include <string>

#include "unit/emulator/emulator_fixtures.hpp"

namespace voicegate::test {

/// Chromium's offer (emulator fixtures): one audio line and the `oai-events` data channel.
inline std::string offer_with_data_channel() {
    return emulator::fixtures::chrome_offer();
}

/// The same offer without its data channel: what a client sends under data_channel = "deny".
inline std::string audio_only_offer() {
    std::string s = emulator::fixtures::chrome_offer();
    s = s.substr(0, s.find("m=application"));
    const std::string bundle = "a=group:BUNDLE 0 1";
    s.replace(s.find(bundle), bundle.size(), "a=group:BUNDLE 0");
    return s;
}

/// `offer` with `line` (without its line end) added as a last line.
inline std::string with_line(std::string offer, const std::string& line) {
    return offer + line + "\r\n";
}

}  // namespace voicegate::test
