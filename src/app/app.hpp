#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "store/open_store.hpp"

namespace voicegate::app {

/// The composition root: builds every component from the configuration (the only place that
/// names concrete types), runs one event loop per thread, and shuts down gracefully.
/// Thread safety: start/stop/wait from one controlling thread; stop() may also come from a
/// signal handler thread via request_stop().
class App {
public:
    /// Builds the service; throws std::runtime_error with a clear message on a start-up failure
    /// (port in use, database unreadable, ...).
    explicit App(config::Config config, std::shared_ptr<const Clock> clock = nullptr);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    /// Starts the event loop threads and begins accepting.
    void start();
    /// Asks for a graceful stop (safe from any thread, idempotent).
    void request_stop();
    /// Blocks until a requested stop has drained in-flight requests, flushed storage and joined
    /// every thread.
    void wait();
    /// Starts, waits for SIGINT/SIGTERM, then stops gracefully. Returns the exit code.
    int run_until_signal();

    /// The bound port of the public listener.
    std::uint16_t port() const;
    /// The public base URL, e.g. http://127.0.0.1:8080.
    std::string base_url() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The store settings of `config` (engine-independent ones and the price table), as `serve` opens
/// the store; also used by the CLI commands that open it (seed). Pure.
store::StoreOptions store_options_for(const config::Config& config, const Clock* clock);

}  // namespace voicegate::app
