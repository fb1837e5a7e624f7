#pragma once

#include <optional>
#include <string>

#include <boost/json/fwd.hpp>

namespace voicegate {

/// Serialises `v` as compact JSON the way OpenAI's servers (and people) print it: like
/// boost::json::serialize, except that doubles use the shortest round-trip decimal form and keep
/// a fractional part (`1.0`, `0.5`, `431.5`, `1e-07`), where Boost 1.81 prints `1E0` and
/// `4.315E2`. Clients that parse `speed` or `threshold` as doubles therefore see doubles, and
/// people reading minutes and costs see plain numbers. Pure; thread-safe.
std::string to_json_text(const boost::json::value& v);

/// A JSON number as a double (integers included); nullopt if `v` is not a number. Pure.
std::optional<double> json_number(const boost::json::value& v);

}  // namespace voicegate
