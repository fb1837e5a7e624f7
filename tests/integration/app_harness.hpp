#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "app/app.hpp"
#include "config/config.hpp"
#include "support/child_process.hpp"
#include "support/http_test_client.hpp"

namespace voicegate::test {

/// Loads the embedded defaults plus `env`-style overrides (and a config file's `toml` text,
/// e.g. profiles), with storage in a fresh temp dir and an ephemeral port.
inline config::Config test_config(std::map<std::string, std::string> env = {},
                                  std::string toml = {}) {
    config::Sources s;
    s.env = std::move(env);
    s.toml_text = std::move(toml);
    s.toml_path = "test.toml";
    if (s.env.count("VOICEGATE_LISTEN") == 0) {
        s.env["VOICEGATE_LISTEN"] = "127.0.0.1:0";
    }
    if (s.env.count("DATABASE_URL") == 0) {
        s.env["DATABASE_URL"] = "sqlite:" + make_temp_dir() + "/vg.db";
    }
    if (s.env.count("VOICEGATE_THREADS") == 0) {
        s.env["VOICEGATE_THREADS"] = "2";
    }
    s.env["VOICEGATE_ACCESS_LOG"] = "0";
    auto r = config::load_config(s);
    if (!r.config) {
        throw std::runtime_error("test config invalid: " + r.errors.at(0));
    }
    return *r.config;
}

/// The whole App running in-process on 127.0.0.1:0, stopped gracefully at destruction.
class RunningApp {
public:
    /// `clock`: the App's clock (a ManualClock lets a test move JWT expiry, JWKS refresh floors
    /// and rate windows); null is the system clock.
    explicit RunningApp(config::Config cfg, std::shared_ptr<const Clock> clock = nullptr)
        : app_(std::make_unique<app::App>(std::move(cfg), std::move(clock))) {
        app_->start();
    }
    ~RunningApp() {
        app_->request_stop();
        app_->wait();
    }
    std::uint16_t port() const { return app_->port(); }
    HttpResult post(const std::string& path, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) const {
        return post_json(port(), path, body, headers);
    }
    HttpResult get(const std::string& path,
                   const std::vector<std::pair<std::string, std::string>>& headers = {}) const {
        return http_request("127.0.0.1", port(), "GET", path, {}, headers);
    }

private:
    std::unique_ptr<app::App> app_;
};

}  // namespace voicegate::test

#include <thread>

#include <boost/asio/io_context.hpp>

#include "emulator/emulator.hpp"
#include "http/server.hpp"

namespace voicegate::test {

/// The emulator on its own loop and port, so a test can point voicegate at it with a key and
/// read its counters (what reached "OpenAI").
class ExternalEmulator {
public:
    /// `eo`'s key is always the one key() answers.
    explicit ExternalEmulator(emulator::EmulatorOptions eo = {}) {
        eo.api_key = "sk-test-external-emulator-0123456789";
        emu_ = std::make_unique<emulator::Emulator>(eo);
        http::ServerOptions so;
        so.port = 0;
        so.access_log = false;
        server_ = std::make_unique<http::Server>(std::vector<boost::asio::io_context*>{&ioc_}, so,
                                                 emu_->handler());
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~ExternalEmulator() {
        server_->begin_drain();
        ioc_.stop();
        thread_.join();
    }
    std::string base_url() const {
        return "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1";
    }
    std::string key() const { return "sk-test-external-emulator-0123456789"; }
    std::uint16_t port() const { return server_->port(); }
    std::uint64_t client_secret_requests() const {
        auto s = emu_->stats();
        auto it = s.requests.find("client_secrets");
        return it == s.requests.end() ? 0 : it->second;
    }
    std::uint64_t connections() const { return server_->connections_accepted(); }
    /// The emulator's counters (what reached "OpenAI").
    emulator::EmulatorStats stats() const { return emu_->stats(); }

private:
    boost::asio::io_context ioc_{1};
    std::unique_ptr<emulator::Emulator> emu_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
};

}  // namespace voicegate::test
