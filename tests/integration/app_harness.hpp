#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "app/app.hpp"
#include "core/config.hpp"
#include "support/child_process.hpp"
#include "support/http_test_client.hpp"

namespace voicegate::test {

/// Loads the embedded defaults plus `env`-style overrides, with storage in a fresh temp dir and
/// an ephemeral port.
inline config::Config test_config(std::map<std::string, std::string> env = {}) {
    config::Sources s;
    s.env = std::move(env);
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
    explicit RunningApp(config::Config cfg) : app_(std::make_unique<app::App>(std::move(cfg))) {
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
    HttpResult get(const std::string& path) const {
        return http_request("127.0.0.1", port(), "GET", path);
    }

private:
    std::unique_ptr<app::App> app_;
};

}  // namespace voicegate::test
