#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

// Small helpers the fuzz targets share to cut one input into parts. The split is by fixed
// separator bytes rather than by length prefixes, so seeds stay readable text files.

namespace voicegate::fuzz {

/// The input as text.
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

/// Takes the first byte of `text` (0 if empty) and drops it: a mode selector.
inline std::uint8_t take_byte(std::string_view& text) {
    if (text.empty()) {
        return 0;
    }
    const auto b = static_cast<std::uint8_t>(text.front());
    text.remove_prefix(1);
    return b;
}

/// Splits `text` at every `sep` (empty parts kept).
inline std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const auto pos = text.find(sep, start);
        if (pos == std::string_view::npos) {
            parts.push_back(text.substr(start));
            return parts;
        }
        parts.push_back(text.substr(start, pos - start));
        start = pos + 1;
    }
}

}  // namespace voicegate::fuzz
