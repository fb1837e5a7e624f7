#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace voicegate::web {

/// The paths at which the embedded asset `asset_path` is served: the path itself, and for a
/// directory's index.html the directory too, with and without its slash ("/index.html" is
/// also "/"; "/dashboard/index.html" also "/dashboard/" and "/dashboard"). Pure.
std::vector<std::string> served_paths(std::string_view asset_path);

}  // namespace voicegate::web
