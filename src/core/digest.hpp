#pragma once

#include <string>
#include <string_view>

namespace voicegate {

/// HMAC-SHA256 of `message` under `key`, as 64 lowercase hex digits (OpenSSL). Pure;
/// thread-safe.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

}  // namespace voicegate
