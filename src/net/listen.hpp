#pragma once

#include <cstdint>
#include <string>

namespace voicegate::net {

/// Parses "host:port" (IPv6 as "[::1]:8080") into `host` and `port`; false, leaving both
/// unchanged, when `text` is not of that form or the port is not 0..65535. Pure.
bool parse_listen(const std::string& text, std::string& host, std::uint16_t& port);

/// True for 127.0.0.0/8, ::1 and "localhost". Pure.
bool is_loopback(const std::string& host);

}  // namespace voicegate::net
