#pragma once

#include <string_view>
#include <vector>

namespace voicegate::web {

/// A static file compiled into the binary (see cmake/EmbedAssets.cmake).
struct Asset {
    std::string_view path;  // "/index.html"
    std::string_view content_type;
    std::string_view body;
};

/// Finds the embedded asset served at `path`, or nullptr. Thread-safe (immutable data).
const Asset* find_asset(std::string_view path);

/// Every embedded asset's path. Thread-safe.
std::vector<std::string_view> asset_paths();

}  // namespace voicegate::web
