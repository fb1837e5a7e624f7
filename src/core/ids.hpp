#pragma once

#include <string>
#include <string_view>

namespace voicegate {

/// Returns `prefix` followed by `n` random characters from [A-Za-z0-9], from a per-thread
/// CSPRNG-seeded generator. Thread-safe.
std::string random_id(std::string_view prefix, std::size_t n);

/// Returns `prefix` followed by `n` random lowercase hex digits. Thread-safe.
std::string random_hex(std::string_view prefix, std::size_t n);

/// Redacts a secret for logs: `ek_…last4` for ephemeral tokens, `sk-…last4` for keys, `…last4`
/// otherwise; short values become `…`. Pure.
std::string redact_secret(std::string_view secret);

/// Compares two strings in time independent of where they differ. Pure.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace voicegate
