#pragma once

// Two real `voicegate serve` processes behind an imaginary load balancer: one
// PostgreSQL schema (VOICEGATE_TEST_PG_URL with `schema=` of its own), one
// Redis (VOICEGATE_TEST_REDIS_URL with a key prefix of its own) and one
// `voicegate emulate` as their upstream, all on 127.0.0.1. Black-box: only the
// binary, its environment and HTTP.
//
// Use the fixture: derive from TwoInstancesTest (its SetUp fails the test, with
// instructions, when PostgreSQL or Redis is missing), then call start() with
// the variables the test is about:
//
//     TEST_F(TwoInstancesTest, Something) {
//         start({{"VOICEGATE_RATE_USER", "10/min"}});
//         auto r = instance(0).post("/api/realtime/token", "{}",
//         bearer("alice"));
//     }

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "support/http_test_client.hpp"
#include "support/jwt_factory.hpp"
#include "support/pg_test_db.hpp"
#include "support/redis_test_env.hpp"

#include <signal.h>

namespace voicegate::test {

/// One running `voicegate serve` (or `voicegate emulate`) child and its port.
/// Once it has announced its port, a thread keeps reading its output, so a
/// chatty child (the emulator's access log) never blocks on a full pipe.
class ServedBinary {
public:
    ServedBinary(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 const std::string& cwd, const std::string& ready_line)
        : proc_(std::make_unique<ChildProcess>(std::move(argv), std::move(env), cwd)) {
        auto line = proc_->wait_for_line(ready_line, std::chrono::seconds(20));
        if (line) {
            port_ = static_cast<std::uint16_t>(port_from_listen_line(*line));
        }
        reader_ = std::thread([this] {
            while (!stopping_.load()) {
                {
                    const std::lock_guard lock(mutex_);
                    proc_->drain();
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        });
    }
    ~ServedBinary() { stop(); }
    ServedBinary(const ServedBinary&) = delete;
    ServedBinary& operator=(const ServedBinary&) = delete;

    /// 0 when it did not announce its port (see output()).
    std::uint16_t port() const { return port_; }
    /// Everything it printed so far.
    std::string output() {
        const std::lock_guard lock(mutex_);
        proc_->drain();
        return proc_->output();
    }
    /// SIGTERM and wait for the graceful exit; its exit code (nullopt: killed
    /// after 15 s).
    std::optional<int> stop() {
        if (stopping_.exchange(true)) {
            return exit_code_;
        }
        reader_.join();
        proc_->signal(SIGTERM);
        exit_code_ = proc_->wait_exit(std::chrono::seconds(15));
        return exit_code_;
    }

    /// SIGKILL, a crash: no drain, nothing released; waits for the exit and answers its
    /// code (128 + 9).
    std::optional<int> kill() {
        if (stopping_.exchange(true)) {
            return exit_code_;
        }
        reader_.join();
        killed_ = true;
        proc_->signal(SIGKILL);
        exit_code_ = proc_->wait_exit(std::chrono::seconds(5));
        return exit_code_;
    }

    /// True after kill().
    bool killed() const { return killed_; }

    /// POSTs JSON to this instance (see post_json). Thread-safe.
    HttpResult post(const std::string& path, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) const {
        return post_json(port_, path, body, headers);
    }
    /// GETs `path` from this instance. Thread-safe.
    HttpResult get(const std::string& path) const {
        return http_request("127.0.0.1", port_, "GET", path);
    }

private:
    std::unique_ptr<ChildProcess> proc_;
    std::uint16_t port_ = 0;
    std::mutex mutex_;  // proc_'s output, read by reader_ and output()
    std::atomic<bool> stopping_{false};
    std::thread reader_;
    std::optional<int> exit_code_;
    bool killed_ = false;
};

/// The fixture: PostgreSQL schema, Redis prefix, emulator and two instances.
/// Members are torn down in reverse order: the instances stop before the schema
/// is dropped.
class TwoInstancesTest : public ::testing::Test {
protected:
    /// HS256 secret of both instances (test-only).
    static constexpr const char* kJwtSecret = "two-instances-secret-0123456789abcdef";

    void SetUp() override {
        VOICEGATE_REQUIRE_PG();
        VOICEGATE_REQUIRE_TEST_REDIS(redis_url_);
        schema_ = std::make_unique<PgTestSchema>();
        prefix_ = unique_key_prefix();
        dir_ = make_temp_dir();
    }

    /// Both instances stop gracefully (SIGTERM, exit 0) before the schema is
    /// dropped; one a test killed (kill()) is already gone.
    void TearDown() override {
        for (auto& inst : instances_) {
            if (inst && !inst->killed()) {
                const auto rc = inst->stop();
                EXPECT_EQ(rc, std::optional<int>(0)) << inst->output();
            }
        }
    }

    /// The environment both instances get: PostgreSQL, Redis, the emulator, HS256
    /// auth, limits high enough to stay out of the way, and then `extra` on top
    /// (it wins).
    ///
    /// Quota tests (VOICEGATE_QUOTA_CONCURRENT, _SESSIONS_PER_DAY,
    /// _MINUTES_PER_DAY): the defaults here are raised so that rate-limit tests
    /// are not cut short by a quota; a quota test passes its own values in
    /// `extra` to start() and gets them on both instances.
    std::map<std::string, std::string> instance_env(
        const std::map<std::string, std::string>& extra) const {
        std::map<std::string, std::string> env = {
            // Nothing from the developer's environment (or a .env: cwd is a fresh
            // temp dir).
            {"VOICEGATE_LISTEN", "127.0.0.1:0"},
            {"VOICEGATE_THREADS", "2"},
            {"VOICEGATE_ACCESS_LOG", "0"},
            {"VOICEGATE_AUTH", ""},
            {"JWT_JWKS_URL", ""},
            {"JWT_JWKS_FILE", ""},
            {"JWT_ISSUER", ""},
            {"JWT_AUDIENCE", ""},
            {"OPENAI_API_KEY", emulator_key()},
            {"OPENAI_BASE_URL", "http://127.0.0.1:" + std::to_string(emulator_->port()) + "/v1"},
            {"DATABASE_URL", schema_->url()},
            {"REDIS_URL", redis_url_},
            {"VOICEGATE_REDIS_KEY_PREFIX", prefix_},
            {"JWT_SECRET", kJwtSecret},
            {"VOICEGATE_RATE_USER", "1000000/s"},
            {"VOICEGATE_RATE_IP", "1000000/s"},
            {"VOICEGATE_QUOTA_CONCURRENT", "1000000"},
            {"VOICEGATE_QUOTA_SESSIONS_PER_DAY", "100000000"},
            {"VOICEGATE_QUOTA_MINUTES_PER_DAY", "100000000"},
        };
        for (const auto& [k, v] : extra) {
            env[k] = v;
        }
        return env;
    }

    /// Starts the emulator, then instance 0 (it creates the schema and runs the
    /// migrations), then instance 1 on the same database. Check with
    /// ASSERT_NO_FATAL_FAILURE(start(...)).
    void start(const std::map<std::string, std::string>& extra = {}) {
        emulator_ = std::make_unique<ServedBinary>(
            std::vector<std::string>{VOICEGATE_BINARY, "emulate", "--listen", "127.0.0.1:0",
                                     "--threads", "1"},
            std::map<std::string, std::string>{}, dir_, "emulator listening on http://");
        ASSERT_GT(emulator_->port(), 0) << emulator_->output();
        for (int i = 0; i < 2; ++i) {
            instances_[i] =
                std::make_unique<ServedBinary>(std::vector<std::string>{VOICEGATE_BINARY, "serve"},
                                               instance_env(extra), dir_, "listening on http://");
            ASSERT_GT(instances_[i]->port(), 0) << "instance " << i << ":\n"
                                                << instances_[i]->output();
        }
    }

    /// Instance 0 or 1.
    ServedBinary& instance(int i) { return *instances_.at(static_cast<std::size_t>(i)); }
    /// The emulator both instances call.
    ServedBinary& emulator() { return *emulator_; }
    /// How many client secrets the emulator was asked for (what reached
    /// "OpenAI").
    std::int64_t upstream_client_secrets() {
        auto r = emulator_->get("/_emulator/stats");
        if (r.status != 200) {
            return -1;
        }
        const auto stats = boost::json::parse(r.body);
        const auto* n = stats.at("requests").as_object().if_contains("client_secrets");
        return n == nullptr ? 0 : n->to_number<std::int64_t>();
    }
    /// The schema both instances store in (PgAdmin queries:
    /// schema().table("sessions")).
    const PgTestSchema& schema() const { return *schema_; }

    /// `Authorization: Bearer <HS256 JWT for sub>`, valid for 10 minutes.
    static std::vector<std::pair<std::string, std::string>> bearer(const std::string& sub) {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        const boost::json::object header{{"alg", "HS256"}, {"typ", "JWT"}};
        const boost::json::object claims{{"sub", sub}, {"exp", now + 600}};
        return {{"Authorization", "Bearer " + sign_hs256(header, claims, kJwtSecret)}};
    }

    static std::string emulator_key() { return "sk-test-two-instances-0123456789"; }

private:
    std::string redis_url_;
    std::string prefix_;
    std::string dir_;
    std::unique_ptr<PgTestSchema> schema_;  // dropped last
    std::unique_ptr<ServedBinary> emulator_;
    std::array<std::unique_ptr<ServedBinary>, 2> instances_;
};

}  // namespace voicegate::test
