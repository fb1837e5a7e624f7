#pragma once

#include <optional>
#include <string>

namespace voicegate {

/// The whole content of the file at `path`, or nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path);

}  // namespace voicegate
