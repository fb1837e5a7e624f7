#pragma once

#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace voicegate::test {

/// Captures everything logged through spdlog's default logger while it lives (every level),
/// then puts the previous logger back.
class LogCapture {
public:
    LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
        previous_ = spdlog::default_logger();
        auto logger = std::make_shared<spdlog::logger>("capture", sink_);
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    /// Everything logged so far.
    std::string text() {
        spdlog::default_logger()->flush();
        return out_.str();
    }

    /// How many times `needle` occurs in what was logged.
    int count(const std::string& needle) {
        const auto all = text();
        int n = 0;
        for (auto pos = all.find(needle); pos != std::string::npos;
             pos = all.find(needle, pos + needle.size())) {
            ++n;
        }
        return n;
    }

private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
    std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace voicegate::test
