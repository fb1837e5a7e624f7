#include "app/loops.hpp"

#include <exception>
#include <string>

#include <spdlog/spdlog.h>

#include "core/thread_name.hpp"

namespace voicegate::app {
namespace asio = boost::asio;

Loops::Loops(int n) {
    for (int i = 0; i < n; ++i) {
        contexts_.push_back(std::make_unique<asio::io_context>(1));
    }
}

Loops::~Loops() = default;

std::vector<asio::io_context*> Loops::pointers() const {
    std::vector<asio::io_context*> out;
    for (const auto& c : contexts_) {
        out.push_back(c.get());
    }
    return out;
}

void Loops::start() {
    for (auto& c : contexts_) {
        guards_.emplace_back(asio::make_work_guard(*c));
        threads_.emplace_back([ctx = c.get(), n = threads_.size() + 1] {
            set_thread_name("vg-loop-" + std::to_string(n));
            for (;;) {
                try {
                    ctx->run();
                    return;
                } catch (const std::exception& e) {
                    spdlog::error("event loop: unexpected exception: {}", e.what());
                }
            }
        });
    }
}

void Loops::stop(std::chrono::milliseconds grace) {
    guards_.clear();
    const auto deadline = std::chrono::steady_clock::now() + grace;
    for (auto& c : contexts_) {
        while (!c->stopped() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    for (auto& c : contexts_) {
        c->stop();
    }
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    threads_.clear();
}

int loop_count(int configured) {
    if (configured > 0) {
        return configured;
    }
    const auto hw = static_cast<int>(std::thread::hardware_concurrency());
    return hw > 0 ? hw : 1;
}

}  // namespace voicegate::app
