#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace voicegate::test {

/// kB of the file `path` (as the kernel names it: canonical) resident through this process's
/// memory maps, from /proc/self/smaps.
inline std::int64_t mapped_rss_kb(const std::string& path) {
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool ours = false;
    std::int64_t kb = 0;
    while (std::getline(smaps, line)) {
        std::istringstream words(line);
        std::string first;
        words >> first;
        if (first.find('-') != std::string::npos && first.back() != ':') {
            const auto at = line.find('/');
            ours = at != std::string::npos && line.substr(at) == path;
        } else if (ours && first == "Rss:") {
            std::int64_t v = 0;
            words >> v;
            kb += v;
        }
    }
    return kb;
}

}  // namespace voicegate::test
