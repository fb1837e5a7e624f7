#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

namespace voicegate::log {

/// Options for logging set-up.
struct LogOptions {
    std::string level = "info";  // trace debug info warn error off
    bool json = false;           // structured lines for the application log too
    bool access_log = true;
};

/// Creates the application ("voicegate") and access ("access") loggers: asynchronous, to stderr
/// and stdout respectively, so no event loop blocks on the terminal. Call once at start-up.
void init(const LogOptions& options);

/// The formatter of the JSON application log (VOICEGATE_LOG_JSON=1): one JSON object per line,
/// `{"time":…,"level":…,"msg":…}`, the message escaped by json_escape (core/text.hpp) so that a
/// quote, a control character or a non-UTF-8 byte in it still gives a valid line. Pure.
std::unique_ptr<spdlog::formatter> json_formatter();

/// Flushes and stops the loggers (at shutdown).
void shutdown();

/// The access logger, or nullptr when access logging is off. Thread-safe.
std::shared_ptr<spdlog::logger> access();

/// Current UTC time as ISO 8601 with milliseconds. Thread-safe.
std::string iso_time_now();

}  // namespace voicegate::log
