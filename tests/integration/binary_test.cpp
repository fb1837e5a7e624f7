// Black-box tests of the real `voicegate` binary: start-up, refusal, durability, shutdown.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/json.hpp>

#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/http_test_client.hpp"

namespace voicegate::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

// Environment for a child that must not inherit a developer's real settings.
std::map<std::string, std::string> clean_env(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env = {{"OPENAI_API_KEY", ""},   {"OPENAI_BASE_URL", ""},
                                              {"VOICEGATE_LISTEN", ""}, {"DATABASE_URL", ""},
                                              {"VOICEGATE_AUTH", ""},   {"JWT_SECRET", ""},
                                              {"REDIS_URL", ""},        {"VOICEGATE_THREADS", "2"}};
    for (auto& [k, v] : extra) {
        env[k] = v;
    }
    return env;
}

struct Served {
    std::unique_ptr<ChildProcess> proc;
    int port = 0;
};

Served serve(const std::string& dir, std::map<std::string, std::string> env = {},
             const std::vector<std::string>& extra_args = {}) {
    Served s;
    std::vector<std::string> argv{VOICEGATE_BINARY, "serve",    "--listen",
                                  "127.0.0.1:0",    "--database-url", "sqlite:" + dir + "/vg.db"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    s.proc = std::make_unique<ChildProcess>(std::move(argv), clean_env(std::move(env)), dir);
    auto line = s.proc->wait_for_line("listening on http://", 15s);
    EXPECT_TRUE(line) << s.proc->output();
    if (line) {
        s.port = port_from_listen_line(*line);
    }
    return s;
}

TEST(Binary, StartsOnDefaultsAnnouncesEmulatorAndConsole) {
    const auto dir = make_temp_dir();
    auto s = serve(dir);
    ASSERT_GT(s.port, 0);
    ASSERT_TRUE(s.proc->wait_for_line("test console at", 5s)) << s.proc->output();
    EXPECT_NE(s.proc->output().find("BUILT-IN EMULATOR"), std::string::npos) << s.proc->output();
    EXPECT_EQ(
        http_request("127.0.0.1", static_cast<std::uint16_t>(s.port), "GET", "/healthz").status,
        200);
    s.proc->signal(SIGTERM);
    EXPECT_EQ(s.proc->wait_exit(15s), 0) << s.proc->output();
}

// Test review D5: SIGTERM while a /token call is in flight (the built-in emulator answers after
// 1.5 s): new connections are refused at once, the in-flight request still gets its 200, and
// the process then exits 0.
TEST(Binary, SigtermDrainsTheInFlightRequestThenExitsZero) {
    using SteadyClock = std::chrono::steady_clock;
    const auto dir = make_temp_dir();
    {
        std::ofstream(dir + "/vg.toml") << "[emulator]\nlatency-ms = 1500\n";
    }
    auto s = serve(dir, {}, {"--config", dir + "/vg.toml"});
    ASSERT_GT(s.port, 0);
    const auto port = static_cast<std::uint16_t>(s.port);

    HttpResult in_flight;
    std::atomic<SteadyClock::rep> answered_at{0};
    std::thread client([&] {
        in_flight = post_json(port, "/api/realtime/token", R"({"userId":"drain-user"})");
        answered_at = SteadyClock::now().time_since_epoch().count();
    });
    // The server holds the request: its gauge counts this scrape and the token request.
    ASSERT_TRUE(eventually([&] {
        return http_request("127.0.0.1", port, "GET", "/metrics")
                   .body.find("\nvoicegate_open_connections 2\n") != std::string::npos;
    }))
        << s.proc->output();
    const auto signalled = SteadyClock::now().time_since_epoch().count();
    s.proc->signal(SIGTERM);
    SteadyClock::rep refused_at = 0;
    EXPECT_TRUE(eventually(
        [&] {
            auto r = http_request("127.0.0.1", port, "GET", "/healthz", {}, {}, 1s);
            refused_at = SteadyClock::now().time_since_epoch().count();
            return r.status == 0 && r.error.find("refused") != std::string::npos;
        },
        5s))
        << "new connections are still accepted after SIGTERM";
    client.join();
    EXPECT_EQ(in_flight.status, 200) << in_flight.error << " " << in_flight.body;
    EXPECT_NE(in_flight.body.find("ek_"), std::string::npos) << in_flight.body;
    EXPECT_GT(answered_at.load(), signalled) << "the request was not in flight at SIGTERM";
    EXPECT_LT(refused_at, answered_at.load()) << "refusal came only after the drain";
    EXPECT_EQ(s.proc->wait_exit(15s), 0) << s.proc->output();
}

TEST(Binary, EndIsDurableAcrossKillDashNine) {
    const auto dir = make_temp_dir();
    std::string session;
    {
        auto s = serve(dir);
        ASSERT_GT(s.port, 0);
        const auto port = static_cast<std::uint16_t>(s.port);
        auto tok = post_json(port, "/api/realtime/token", R"({"userId":"durable_user"})");
        ASSERT_EQ(tok.status, 200) << tok.body;
        session = std::string(json::parse(tok.body).at("sessionId").as_string());
        auto end = post_json(port, "/api/realtime/end",
                             R"({"sessionId":")" + session +
                                 R"(","duration":42.5,"messageCount":7,"endedBy":"timeout"})");
        ASSERT_EQ(end.status, 200) << end.body;
        // Right after the 200: no chance to flush anything more.
        s.proc->signal(SIGKILL);
        EXPECT_EQ(s.proc->wait_exit(5s), 128 + SIGKILL);
    }
    auto s = serve(dir);
    ASSERT_GT(s.port, 0);
    auto again = post_json(static_cast<std::uint16_t>(s.port), "/api/realtime/end",
                           R"({"sessionId":")" + session + R"(","duration":1,"endedBy":"user"})");
    ASSERT_EQ(again.status, 200) << again.body;
    auto body = json::parse(again.body).as_object();
    EXPECT_EQ(body.at("alreadyEnded"), true);
    EXPECT_EQ(body.at("sessionData").at("duration"), 42.5);
    EXPECT_EQ(body.at("sessionData").at("messageCount"), 7);
    EXPECT_EQ(body.at("sessionData").at("endedBy"), "timeout");
}

TEST(Binary, RefusesPublicAddressWithoutKey) {
    const auto dir = make_temp_dir();
    ChildProcess p({VOICEGATE_BINARY, "serve", "--listen", "0.0.0.0:0", "--database-url",
                    "sqlite:" + dir + "/vg.db"},
                   clean_env({{"VOICEGATE_ALLOW_ANONYMOUS", "1"}}), dir);
    EXPECT_EQ(p.wait_exit(10s), 2);
    EXPECT_NE(p.output().find("OPENAI_API_KEY is not set"), std::string::npos) << p.output();
    EXPECT_EQ(p.output().find("listening on"), std::string::npos);
}

TEST(Binary, BadConfigGivesOneLinePerProblemAndNoSecrets) {
    const auto dir = make_temp_dir();
    ChildProcess p({VOICEGATE_BINARY, "serve"},
                   clean_env({{"VOICEGATE_TOKEN_TTL", "3"},
                              {"VOICEGATE_LISTEN", "nowhere"},
                              {"OPENAI_API_KEY", "ek_notakey0123456789abcdef"}}),
                   dir);
    EXPECT_EQ(p.wait_exit(10s), 2);
    const auto& out = p.output();
    EXPECT_NE(out.find("VOICEGATE_TOKEN_TTL"), std::string::npos) << out;
    EXPECT_NE(out.find("VOICEGATE_LISTEN"), std::string::npos) << out;
    EXPECT_NE(out.find("OPENAI_API_KEY"), std::string::npos) << out;
    EXPECT_EQ(out.find("ek_notakey0123456789abcdef"), std::string::npos) << out;
}

// Probe 2026-12 D4: three configured URLs whose password reached the output.
TEST(Binary, MalformedDatabaseUrlErrorDoesNotPrintThePassword) {
    const auto dir = make_temp_dir();
    ChildProcess p({VOICEGATE_BINARY, "serve", "--listen", "127.0.0.1:0"},
                   clean_env({{"DATABASE_URL", "postgres://u:PGLEAK3@[bad/db"}}), dir);
    EXPECT_NE(p.wait_exit(15s), 0);
    const auto& out = p.output();
    EXPECT_NE(out.find("cannot start"), std::string::npos) << out;  // libpq's text is shown ...
    EXPECT_NE(out.find("postgres://u:***@"), std::string::npos) << out;
    EXPECT_EQ(out.find("PGLEAK3"), std::string::npos) << out;  // ... without the password
    EXPECT_EQ(out.find("listening on"), std::string::npos) << out;
}

TEST(Binary, JwksUrlWithUserInfoIsRefusedWithoutPrintingThePassword) {
    const auto dir = make_temp_dir();
    ChildProcess p({VOICEGATE_BINARY, "serve", "--listen", "127.0.0.1:0"},
                   clean_env({{"VOICEGATE_AUTH", "jwt"},
                              {"JWT_JWKS_URL", "https://u:JWKSLEAK@127.0.0.1:1/jwks.json"}}),
                   dir);
    EXPECT_EQ(p.wait_exit(10s), 2);
    const auto& out = p.output();
    EXPECT_NE(out.find("JWT_JWKS_URL: must not carry user info"), std::string::npos) << out;
    EXPECT_EQ(out.find("JWKSLEAK"), std::string::npos) << out;
}

TEST(Binary, BaseUrlWithUserInfoIsRefusedWithoutPrintingThePassword) {
    const auto dir = make_temp_dir();
    ChildProcess p({VOICEGATE_BINARY, "serve", "--listen", "127.0.0.1:0"},
                   clean_env({{"OPENAI_API_KEY", "sk-test-0123456789abcdef"},
                              {"OPENAI_BASE_URL", "http://user:PWLEAK@127.0.0.1:1/v1"}}),
                   dir);
    EXPECT_EQ(p.wait_exit(10s), 2);
    const auto& out = p.output();
    EXPECT_NE(out.find("OPENAI_BASE_URL"), std::string::npos) << out;
    EXPECT_EQ(out.find("PWLEAK"), std::string::npos) << out;
}

// Probe 2026-12 D9: a path of raw bytes that are not UTF-8 made the access line invalid JSON.
TEST(Binary, AccessLogLineOfANonUtf8PathIsValidJson) {
    const auto dir = make_temp_dir();
    auto s = serve(dir, {{"VOICEGATE_ACCESS_LOG", "1"}});
    ASSERT_GT(s.port, 0);
    auto r = http_request("127.0.0.1", static_cast<std::uint16_t>(s.port), "GET", "/\xff\xfe", {},
                          {{"X-Request-Id", "probe-d9"}});
    EXPECT_EQ(r.status, 404) << r.error;
    auto line = s.proc->wait_for_line("probe-d9", 5s);
    ASSERT_TRUE(line) << s.proc->output();
    const auto start = line->find('{');
    ASSERT_NE(start, std::string::npos) << *line;
    boost::system::error_code ec;
    auto v = json::parse(line->substr(start), ec);  // strict: refuses bytes that are not UTF-8
    ASSERT_FALSE(ec) << *line;
    EXPECT_EQ(v.at("route"), "/\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(v.at("status"), 404);
    s.proc->signal(SIGTERM);
    EXPECT_EQ(s.proc->wait_exit(15s), 0) << s.proc->output();
}

TEST(Binary, HelpExplainsSubcommands) {
    for (const char* sub : {"serve", "emulate", "migrate", "token", "version", "seed", "usage"}) {
        ChildProcess p({VOICEGATE_BINARY, sub, "--help"}, clean_env());
        EXPECT_EQ(p.wait_exit(10s), 0) << sub;
        EXPECT_NE(p.output().find("Usage"), std::string::npos) << sub << p.output();
    }
    ChildProcess v({VOICEGATE_BINARY, "version"}, clean_env());
    EXPECT_EQ(v.wait_exit(10s), 0);
    EXPECT_NE(v.output().find("voicegate 0."), std::string::npos);
}

TEST(Binary, TokenCommandPrintsAToken) {
    const auto dir = make_temp_dir();
    auto s = serve(dir);
    ASSERT_GT(s.port, 0);
    ChildProcess t({VOICEGATE_BINARY, "token", "--server",
                    "http://127.0.0.1:" + std::to_string(s.port), "--model", "gpt-realtime",
                    "--voice", "marin", "-q"},
                   clean_env(), dir);
    EXPECT_EQ(t.wait_exit(15s), 0) << t.output();
    EXPECT_EQ(t.output().rfind("ek_", 0), 0U) << t.output();
}

TEST(Binary, MigrateReportsSchema) {
    const auto dir = make_temp_dir();
    ChildProcess m({VOICEGATE_BINARY, "migrate", "--database-url", "sqlite:" + dir + "/m.db"},
                   clean_env(), dir);
    EXPECT_EQ(m.wait_exit(15s), 0) << m.output();
    EXPECT_NE(m.output().find("version"), std::string::npos) << m.output();
}

TEST(Binary, MigrateRebuildsRollupsAndSaysWhatItDid) {
    const auto dir = make_temp_dir();
    const std::string url = "sqlite:" + dir + "/r.db";
    ChildProcess m({VOICEGATE_BINARY, "migrate", "--database-url", url, "--rebuild-rollups"},
                   clean_env(), dir);
    EXPECT_EQ(m.wait_exit(15s), 0) << m.output();
    EXPECT_NE(m.output().find("rebuilt the daily rollups in one transaction: 0 sessions"),
              std::string::npos)
        << m.output();
}

TEST(Binary, SeedThenUsageReportsTheSeededSessionsAndRebuildAgrees) {
    const auto dir = make_temp_dir();
    const std::string url = "sqlite:" + dir + "/seed.db";
    ChildProcess seed({VOICEGATE_BINARY, "seed", "--sessions", "3000", "--users", "200", "--days",
                       "30", "--database-url", url},
                      clean_env(), dir);
    ASSERT_EQ(seed.wait_exit(60s), 0) << seed.output();
    EXPECT_NE(seed.output().find("3,000/3,000 sessions"), std::string::npos) << seed.output();

    const auto usage_json = [&](const std::vector<std::string>& extra) {
        std::vector<std::string> args{VOICEGATE_BINARY, "usage", "--since",        "30d",
                                      "--format",       "json",  "--database-url", url};
        args.insert(args.end(), extra.begin(), extra.end());
        ChildProcess u(args, clean_env(), dir);
        EXPECT_EQ(u.wait_exit(30s), 0) << u.output();
        return boost::json::parse(u.output()).as_object();
    };
    auto by_day = usage_json({});
    const auto& totals = by_day.at("totals").as_object();
    EXPECT_EQ(totals.at("sessions").as_int64(), 3000);
    EXPECT_GT(totals.at("endedSessions").as_int64(), 2400);
    EXPECT_LT(totals.at("endedSessions").as_int64(), 3000);
    EXPECT_EQ(by_day.at("rows").as_array().size(), 30U);
    std::int64_t summed = 0;
    for (const auto& row : by_day.at("rows").as_array()) {
        summed += row.as_object().at("sessions").as_int64();
    }
    EXPECT_EQ(summed, 3000);
    auto top = usage_json({"--group-by", "user", "--limit", "3"});
    ASSERT_EQ(top.at("rows").as_array().size(), 3U);
    EXPECT_EQ(top.at("rows").as_array()[0].as_object().at("key"), "seed-user-00001")
        << "the Zipf head is the heaviest user";

    ChildProcess rebuild({VOICEGATE_BINARY, "migrate", "--database-url", url, "--rebuild-rollups"},
                         clean_env(), dir);
    ASSERT_EQ(rebuild.wait_exit(30s), 0) << rebuild.output();
    EXPECT_EQ(usage_json({}).at("totals"), by_day.at("totals")) << "rollups kept by the writes "
                                                                   "equal a rebuild from sessions";

    ChildProcess table({VOICEGATE_BINARY, "usage", "--since", "7d", "--database-url", url},
                       clean_env(), dir);
    ASSERT_EQ(table.wait_exit(30s), 0) << table.output();
    EXPECT_NE(table.output().find("TOTAL"), std::string::npos) << table.output();
    EXPECT_NE(table.output().find("est_cost_usd: Estimate"), std::string::npos) << table.output();

    // A database that already holds sessions is refused unless --append.
    ChildProcess again({VOICEGATE_BINARY, "seed", "--sessions", "10", "--database-url", url},
                       clean_env(), dir);
    EXPECT_EQ(again.wait_exit(30s), 2);
    EXPECT_NE(again.output().find("already holds sessions"), std::string::npos) << again.output();
    ChildProcess more({VOICEGATE_BINARY, "seed", "--sessions", "10", "--append", "--days", "30",
                       "--database-url", url},
                      clean_env(), dir);
    EXPECT_EQ(more.wait_exit(30s), 0) << more.output();
    EXPECT_EQ(usage_json({}).at("totals").as_object().at("sessions").as_int64(), 3010);

    ChildProcess bad({VOICEGATE_BINARY, "usage", "--since", "yesterday", "--database-url", url},
                     clean_env(), dir);
    EXPECT_EQ(bad.wait_exit(30s), 2);
    EXPECT_NE(bad.output().find("--since: expected Nd, Nw or a date YYYY-MM-DD"), std::string::npos)
        << bad.output();
}


// Review 2026-12 §1.3: a typo or a bad value in [emulator] got past load_config and stopped
// the service later with a start-up exception; it is now a one-line config error naming the
// key, and exit status 2 before anything is opened.
TEST(Binary, BadEmulatorTableGivesOneConfigLinePerKeyAndDoesNotStart) {
    const auto dir = make_temp_dir();
    {
        std::ofstream toml(dir + "/vg.toml");
        toml << "[emulator]\nlatency_mss = 250\nerror_rate = 2\n";
    }
    ChildProcess p({VOICEGATE_BINARY, "serve", "--config", dir + "/vg.toml", "--listen",
                    "127.0.0.1:0", "--database-url", "sqlite:" + dir + "/vg.db"},
                   clean_env(), dir);
    EXPECT_EQ(p.wait_exit(10s), 2);
    const auto& out = p.output();
    EXPECT_NE(out.find("voicegate: config: " + dir +
                       "/vg.toml: emulator.latency_mss: unknown "
                       "setting"),
              std::string::npos)
        << out;
    EXPECT_NE(
        out.find("voicegate: config: " + dir +
                 "/vg.toml: emulator.error_rate: must be a rate between 0 and 1, got \"2\"\n"),
        std::string::npos)
        << out;
    EXPECT_NE(out.find("not started: fix the 2 problem(s) above"), std::string::npos) << out;
    EXPECT_EQ(out.find("cannot start"), std::string::npos) << out;
    EXPECT_EQ(out.find("listening on"), std::string::npos) << out;
    EXPECT_FALSE(std::filesystem::exists(dir + "/vg.db")) << "refused before opening the store";
}
}  // namespace
}  // namespace voicegate::test
