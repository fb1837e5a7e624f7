#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace voicegate::test {

/// A sink that keeps every formatted line in memory. Reading it takes the same mutex the
/// logging threads take, so a test may read while another thread logs (an ostream_sink's
/// stream read from the test thread is a data race ThreadSanitizer reports).
class MemorySink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::string text() {
        const std::lock_guard lock(mutex_);
        return text_;
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        text_.append(line.data(), line.size());
    }
    void flush_() override {}

private:
    std::string text_;
};

/// Captures everything logged through spdlog's default logger while it lives (every level),
/// then puts the previous logger back.
class LogCapture {
public:
    LogCapture() : sink_(std::make_shared<MemorySink>()) {
        previous_ = spdlog::default_logger();
        auto logger = std::make_shared<spdlog::logger>("capture", sink_);
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    /// Everything logged so far.
    std::string text() { return sink_->text(); }

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
    std::shared_ptr<MemorySink> sink_;
    std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace voicegate::test
