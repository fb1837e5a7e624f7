#include "web/index_paths.hpp"

namespace voicegate::web {

std::vector<std::string> served_paths(std::string_view asset_path) {
    std::vector<std::string> out{std::string(asset_path)};
    constexpr std::string_view kIndex = "/index.html";
    if (asset_path.ends_with(kIndex)) {
        auto dir = asset_path.substr(0, asset_path.size() - kIndex.size() + 1);
        out.emplace_back(dir);
        if (dir.size() > 1) {
            out.emplace_back(dir.substr(0, dir.size() - 1));
        }
    }
    return out;
}

}  // namespace voicegate::web
