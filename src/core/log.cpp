#include "core/log.hpp"

#include <chrono>
#include <ctime>

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/text.hpp"

namespace voicegate::log {
namespace {
std::shared_ptr<spdlog::logger> g_access;  // set once in init(), before any thread starts

// %* in a pattern: the message, escaped for the inside of a JSON string.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
                spdlog::memory_buf_t& dest) override {
        const auto escaped = json_escape(std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(escaped.data(), escaped.data() + escaped.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonMessageFlag>();
    }
};

}  // namespace

std::unique_ptr<spdlog::formatter> json_formatter() {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc,
                                                         spdlog::details::os::default_eol);
    f->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})");
    return f;
}

void init(const LogOptions& options) {
    // 8192 queued lines bound the logger's memory (each slot is preallocated) while still
    // absorbing bursts; access lines overrun the oldest rather than block.
    spdlog::init_thread_pool(8192, 1);
    auto err_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto app = std::make_shared<spdlog::async_logger>("voicegate", err_sink, spdlog::thread_pool(),
                                                      spdlog::async_overflow_policy::block);
    if (options.json) {
        app->set_formatter(json_formatter());
    } else {
        app->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
    }
    app->set_level(spdlog::level::from_str(options.level));
    app->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(app);
    if (options.access_log) {
        auto out_sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
        // Access lines are dropped rather than stalling an event loop when the terminal is slow.
        g_access =
            std::make_shared<spdlog::async_logger>("access", out_sink, spdlog::thread_pool(),
                                                   spdlog::async_overflow_policy::overrun_oldest);
        g_access->set_pattern("%v");
        g_access->set_level(spdlog::level::info);
    }
}

void shutdown() {
    if (g_access) {
        g_access->flush();
    }
    spdlog::default_logger()->flush();
    spdlog::shutdown();
}

std::shared_ptr<spdlog::logger> access() {
    return g_access;
}

std::string iso_time_now() {
    const auto now = std::chrono::system_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
    return buf;
}

}  // namespace voicegate::log
