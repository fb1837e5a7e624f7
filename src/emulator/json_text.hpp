#pragma once

#include <string>

#include <boost/json/fwd.hpp>

namespace voicegate::emulator {

/// Serialises `v` as compact JSON the way OpenAI's servers print it: like boost::json::serialize,
/// except that doubles use the shortest round-trip decimal form and keep a fractional part
/// (`1.0`, `0.5`, `1e-07`), where Boost 1.81 prints `1E0`. Clients that parse `speed` or
/// `threshold` as doubles therefore see doubles. Pure; thread-safe.
std::string to_json_text(const boost::json::value& v);

}  // namespace voicegate::emulator
