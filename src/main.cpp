// voicegate: args -> configuration -> App. Everything else lives in voicegate_core.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "app/app.hpp"
#include "app/cli_client.hpp"
#include "app/seed.hpp"
#include "app/usage_cli.hpp"
#include "config/config.hpp"
#include "core/file.hpp"
#include "core/log.hpp"
#include "emulator/options.hpp"
#include "store/open_store.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX: the program declares it

namespace {
using namespace voicegate;

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string kv(*e);
        const auto eq = kv.find('=');
        if (eq != std::string::npos) {
            env[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
    }
    return env;
}

// Common options: where configuration comes from, and flags that override it.
struct CommonOptions {
    std::string config_file;
    std::string env_file = ".env";
    std::map<std::string, std::string> flags;
    std::map<std::string, std::string> flag_names;  // variable -> "--flag VALUE", as registered
};

// A flag that sets the variable `env`; its help is the setting's, from the settings table.
void add_flag(CLI::App* cmd, CommonOptions& common, const std::string& name,
              const std::string& env) {
    cmd->add_option_function<std::string>(
           name, [&common, env](const std::string& v) { common.flags[env] = v; },
           config::setting_help(env, true))
        ->type_name("VALUE");
    common.flag_names[env] = name + " VALUE";
}

// A flag without a value that sets the boolean variable `env` to 1 (its help: the setting's,
// less the "1: " that describes the variable's value).
void add_switch(CLI::App* cmd, CommonOptions& common, const std::string& name,
                const std::string& env) {
    auto help = config::setting_help(env, false);
    if (help.rfind("1: ", 0) == 0) {
        help.erase(0, 3);
    }
    cmd->add_flag_function(
        name, [&common, env](std::int64_t) { common.flags[env] = "1"; }, help);
    common.flag_names[env] = name;
}

void add_config_options(CLI::App* cmd, CommonOptions& common) {
    cmd->add_option("--config", common.config_file, "TOML configuration file")->type_name("FILE");
    cmd->add_option("--env-file", common.env_file, "dotenv file read if present (default .env)")
        ->type_name("FILE");
    add_flag(cmd, common, "--database-url", "DATABASE_URL");
    add_flag(cmd, common, "--log-level", "VOICEGATE_LOG_LEVEL");
}

// Loads the configuration or prints one line per problem and returns nullopt.
std::optional<config::Config> load(const CommonOptions& common) {
    config::Sources src;
    if (!common.config_file.empty()) {
        auto text = read_file(common.config_file);
        if (!text) {
            std::fprintf(stderr, "voicegate: config: cannot read --config %s\n",
                         common.config_file.c_str());
            return std::nullopt;
        }
        src.toml_text = *text;
        src.toml_path = common.config_file;
    }
    if (auto dotenv = read_file(common.env_file)) {
        src.dotenv = config::parse_dotenv(*dotenv);
    }
    src.env = environment();
    src.flags = common.flags;
    auto result = config::load_config(src);
    for (const auto& e : result.errors) {
        std::fprintf(stderr, "voicegate: config: %s\n", e.c_str());
    }
    if (!result.config) {
        std::fprintf(stderr, "voicegate: not started: fix the %zu problem(s) above\n",
                     result.errors.size());
        return std::nullopt;
    }
    for (const auto& w : result.warnings) {
        std::fprintf(stderr, "voicegate: warning: %s\n", w.c_str());
    }
    return result.config;
}

std::string variables_help() {
    std::string out =
        "\nEnvironment variables (flags > environment > .env > --config file > defaults):\n";
    for (const auto& [name, help] : config::known_variables()) {
        out +=
            "  " + name + std::string(name.size() < 38 ? 38 - name.size() : 1, ' ') + help + "\n";
    }
    return out;
}

int cmd_serve(const CommonOptions& common) {
    auto cfg = load(common);
    if (!cfg) {
        return 2;
    }
    log::init({cfg->log.level, cfg->log.json, cfg->log.access});
    int rc = 0;
    try {
        app::App app(*cfg);
        rc = app.run_until_signal();
    } catch (const std::exception& e) {
        spdlog::critical("voicegate: cannot start: {}", e.what());
        rc = 1;
    }
    log::shutdown();
    return rc;
}

// Prints "voicegate WHAT: message (details)" for a failure and returns exit code 1.
int failed(const std::string& what, const Failure& f) {
    std::fprintf(stderr, "voicegate %s: %s%s%s%s\n", what.c_str(),
                 std::string(f.public_message()).c_str(), f.details.empty() ? "" : " (",
                 f.details.c_str(), f.details.empty() ? "" : ")");
    return 1;
}

int cmd_migrate(const CommonOptions& common, bool rebuild_rollups) {
    auto cfg = load(common);
    if (!cfg) {
        return 2;
    }
    auto summary = store::migrate_database(cfg->store.url);
    if (!summary) {
        return failed("migrate", summary.error());
    }
    std::printf("%s: %s\n", store::redact_database_url(cfg->store.url).c_str(), summary->c_str());
    if (!rebuild_rollups) {
        return 0;
    }
    auto rebuilt = store::rebuild_database_rollups(cfg->store.url);
    if (!rebuilt) {
        return failed("migrate --rebuild-rollups", rebuilt.error());
    }
    std::printf(
        "rebuilt the daily rollups in one transaction: %lld sessions summed into %lld day x user "
        "x model rows; %lld denials in %lld day x user x reason rows kept as counted\n",
        static_cast<long long>(rebuilt->sessions), static_cast<long long>(rebuilt->usage_rows),
        static_cast<long long>(rebuilt->denials), static_cast<long long>(rebuilt->denial_rows));
    return 0;
}

int cmd_seed(const CommonOptions& common, app::SeedPlan plan, bool append) {
    auto cfg = load(common);
    if (!cfg) {
        return 2;
    }
    log::init({cfg->log.level, cfg->log.json, false});
    const std::string where = store::redact_database_url(cfg->store.url);
    SystemClock clock;
    plan.now_ms = clock.now_ms();
    auto opened = store::open_store(cfg->store.url, app::store_options_for(*cfg, &clock));
    if (!opened) {
        return failed("seed: cannot open " + where, opened.error());
    }
    if (!append) {
        auto held = app::holds_sessions(**opened);
        if (!held) {
            return failed("seed: cannot read " + where, held.error());
        }
        if (*held) {
            (*opened)->close();
            std::fprintf(stderr,
                         "voicegate seed: %s already holds sessions; seed fills an empty database "
                         "(use another --database-url, or --append to add synthetic sessions to "
                         "these)\n",
                         where.c_str());
            return 2;
        }
    }
    std::fprintf(
        stderr,
        "voicegate seed: writing %lld synthetic sessions of %d users over %d days into %s\n",
        static_cast<long long>(plan.sessions), plan.users, plan.days, where.c_str());
    const bool tty = isatty(fileno(stderr)) != 0;
    int last_decile = -1;
    auto progress = [&](const app::SeedProgress& p) {
        if (tty) {
            std::fprintf(stderr, "\r%s ", app::render_progress(p).c_str());
            if (p.finished) {
                std::fputc('\n', stderr);
            }
            return;
        }
        // Not a terminal (CI, a log file): a line per tenth, and the last one.
        const int decile = p.total > 0 ? static_cast<int>(p.done * 10 / p.total) : 10;
        if (decile != last_decile || p.finished) {
            last_decile = decile;
            std::fprintf(stderr, "%s\n", app::render_progress(p).c_str());
        }
    };
    auto seeded = app::run_seed(**opened, plan, progress);
    (*opened)->close();
    log::shutdown();
    if (!seeded) {
        return failed("seed: stopped", seeded.error());
    }
    std::fprintf(stderr, "voicegate seed: done; users are named seed-user-NNNNN\n");
    return 0;
}

int cmd_usage(const CommonOptions& common, const app::UsageCliOptions& options) {
    auto cfg = load(common);
    if (!cfg) {
        return 2;
    }
    log::init({cfg->log.level, cfg->log.json, false});
    SystemClock clock;
    auto query = app::usage_query_from(options, clock.now_ms() / 86'400'000);
    if (!query) {
        std::fprintf(stderr, "voicegate usage: %s\n",
                     std::string(query.error().public_message()).c_str());
        return 2;
    }
    const std::string where = store::redact_database_url(cfg->store.url);
    auto opened = store::open_store(cfg->store.url, app::store_options_for(*cfg, &clock));
    if (!opened) {
        return failed("usage: cannot open " + where, opened.error());
    }
    auto report = app::run_usage_query(**opened, *query);
    (*opened)->close();
    log::shutdown();
    if (!report) {
        return failed("usage", report.error());
    }
    std::fputs(app::render_usage(*report, *query, options.format).c_str(), stdout);
    return 0;
}

struct TokenOptions {
    std::string server;
    std::string model;
    std::string voice;
    std::string instructions;
    std::string user;
    std::string bearer;
    bool quiet = false;
};

int cmd_token(const CommonOptions& common, const TokenOptions& t) {
    std::string server = t.server;
    if (server.empty()) {
        auto cfg = load(common);
        if (!cfg) {
            return 2;
        }
        const auto& h = cfg->server.host;
        const std::string host = h == "0.0.0.0" ? "127.0.0.1" : (h == "::" ? "[::1]" : h);
        server = "http://" + host + ":" + std::to_string(cfg->server.port);
    }
    boost::json::object sc;
    if (!t.model.empty()) {
        sc["model"] = t.model;
    }
    if (!t.voice.empty()) {
        sc["voice"] = t.voice;
    }
    if (!t.instructions.empty()) {
        sc["instructions"] = t.instructions;
    }
    boost::json::object body;
    if (!t.user.empty()) {
        body["userId"] = t.user;
    }
    if (!sc.empty()) {
        body["sessionConfig"] = sc;
    }
    auto res = app::cli_post_json(server, "/api/realtime/token", boost::json::serialize(body),
                                  t.bearer, 35'000);
    if (!res.error.empty()) {
        std::fprintf(stderr, "voicegate token: %s\n", res.error.c_str());
        return 1;
    }
    if (res.status != 200) {
        std::fprintf(stderr, "voicegate token: HTTP %d: %s\n", res.status, res.body.c_str());
        return 1;
    }
    if (t.quiet) {
        boost::system::error_code ec;
        auto v = boost::json::parse(res.body, ec);
        if (!ec && v.is_object() && v.as_object().contains("token")) {
            std::printf("%s\n", std::string(v.as_object().at("token").as_string()).c_str());
            return 0;
        }
    }
    std::printf("%s\n", res.body.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{
        "voicegate: a gateway that mints OpenAI Realtime ephemeral tokens for apps, with "
        "auth, limits, quotas and usage records.\nRun `voicegate serve` (the default) "
        "and open the test console it prints."};
    cli.set_version_flag("--version", std::string("voicegate ") + VOICEGATE_VERSION);
    cli.require_subcommand(0, 1);
    cli.footer(variables_help());

    CommonOptions serve_opts;
    auto* serve = cli.add_subcommand("serve", "Run the service (default)");
    add_config_options(serve, serve_opts);
    add_flag(serve, serve_opts, "--listen", "VOICEGATE_LISTEN");
    add_flag(serve, serve_opts, "--threads", "VOICEGATE_THREADS");
    add_flag(serve, serve_opts, "--token-ttl", "VOICEGATE_TOKEN_TTL");
    add_flag(serve, serve_opts, "--cors-origins", "VOICEGATE_CORS_ORIGINS");
    add_flag(serve, serve_opts, "--base-url", "OPENAI_BASE_URL");
    add_flag(serve, serve_opts, "--quota-concurrent", "VOICEGATE_QUOTA_CONCURRENT");
    add_flag(serve, serve_opts, "--quota-minutes-per-day", "VOICEGATE_QUOTA_MINUTES_PER_DAY");
    add_flag(serve, serve_opts, "--quota-sessions-per-day", "VOICEGATE_QUOTA_SESSIONS_PER_DAY");
    add_flag(serve, serve_opts, "--session-max-minutes", "VOICEGATE_SESSION_MAX_MINUTES");
    add_switch(serve, serve_opts, "--emulator", "VOICEGATE_EMULATOR");
    add_switch(serve, serve_opts, "--dev", "VOICEGATE_DEV");
    serve->footer(variables_help());

    auto* reference = cli.add_subcommand(
        "config-reference",
        "Print the configuration reference (docs/configuration.md) as Markdown: every setting "
        "with its variable, TOML key, serve flag, default and meaning");

    auto* emulate =
        cli.add_subcommand("emulate", "Run only the OpenAI Realtime emulator (SPEC §8)");
    std::string emu_listen = "127.0.0.1:9090";
    int emu_threads = 0;
    std::map<std::string, std::string> emu_options;
    emulate->add_option("--listen", emu_listen, "host:port (default 127.0.0.1:9090)");
    emulate->add_option("--threads", emu_threads, "event loops (default: one per core)");
    for (const auto& spec : emulator::emulator_option_specs()) {
        emulate
            ->add_option_function<std::string>(
                "--" + std::string(spec.name),
                [&emu_options, n = std::string(spec.name)](const std::string& v) {
                    emu_options[n] = v;
                },
                std::string(spec.help))
            ->type_name(std::string(spec.value_name));
    }
    std::string emu_log_level = "info";
    emulate->add_option("--log-level", emu_log_level, "trace debug info warn error off");

    CommonOptions migrate_opts;
    auto* migrate = cli.add_subcommand("migrate", "Apply storage schema migrations and exit");
    add_config_options(migrate, migrate_opts);
    bool rebuild_rollups = false;
    migrate->add_flag("--rebuild-rollups", rebuild_rollups,
                      "After migrating, recompute the daily usage rollups (day x user x model) "
                      "from the sessions table, in one transaction (denial counts are kept)");

    CommonOptions seed_opts;
    app::SeedPlan seed_plan;
    auto* seed = cli.add_subcommand(
        "seed", "Fill the database with realistic synthetic sessions (for demos and benchmarks)");
    add_config_options(seed, seed_opts);
    seed->add_option("--sessions", seed_plan.sessions, "sessions to write (default 10000)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}));
    seed->add_option("--users", seed_plan.users, "users, with Zipf-skewed activity (default 5000)")
        ->check(CLI::Range(1, 10'000'000));
    seed->add_option("--days", seed_plan.days,
                     "spread over the last N UTC days up to now (default 90)")
        ->check(CLI::Range(1, 3660));
    seed->add_option("--never-ended", seed_plan.never_ended,
                     "share of sessions never ended (default 0.1)")
        ->check(CLI::Range(0.0, 1.0));
    seed->add_option("--seed", seed_plan.seed, "random seed (default 42)");
    bool seed_append = false;
    seed->add_flag("--append", seed_append,
                   "add to a database that already holds sessions (refused otherwise)");
    seed->footer(
        "\nWrites through the same store calls as the service (sessions, events, rollups), in "
        "group commits.\nSeeded users are named seed-user-NNNNN. Example:\n"
        "  voicegate seed --sessions 1000000 --database-url sqlite:demo.db\n");

    CommonOptions usage_opts;
    app::UsageCliOptions usage_cli;
    auto* usage = cli.add_subcommand(
        "usage",
        "Print usage (sessions, minutes, estimated cost, endedBy, denials) from the database");
    add_config_options(usage, usage_opts);
    usage->add_option("--since", usage_cli.since,
                      "Nd, Nw or YYYY-MM-DD (default 30d: the last 30 UTC days)");
    usage->add_option("--until", usage_cli.until, "YYYY-MM-DD, inclusive (default today, UTC)");
    usage->add_option("--user", usage_cli.user, "only this user id");
    usage->add_option("--model", usage_cli.model, "only this model");
    usage->add_option("--group-by", usage_cli.group_by, "day, user or model (default day)");
    usage->add_option("--format", usage_cli.format,
                      "table, json (the admin API's body) or csv (default table)");
    usage->add_option("--limit", usage_cli.limit,
                      "--group-by user: most rows, by billable minutes (default 100)");
    usage->footer(
        "\nReads the daily rollups, as GET /api/admin/usage does (the same numbers). Examples:\n"
        "  voicegate usage --since 7d\n"
        "  voicegate usage --since 2026-11-01 --until 2026-11-30 --group-by user --format csv\n");

    CommonOptions token_common;
    TokenOptions token_opts;
    auto* token = cli.add_subcommand(
        "token", "Mint a token from a running voicegate (like the README's curl)");
    add_config_options(token, token_common);
    token->add_option("--server", token_opts.server,
                      "voicegate base URL (default: from VOICEGATE_LISTEN)");
    token->add_option("--model", token_opts.model, "model (aliases allowed)");
    token->add_option("--voice", token_opts.voice, "voice");
    token->add_option("--instructions", token_opts.instructions, "instructions");
    token->add_option("--user", token_opts.user, "userId (when auth is off)");
    token->add_option("--bearer", token_opts.bearer, "JWT to send as Authorization: Bearer");
    token->add_flag("--quiet,-q", token_opts.quiet, "print only the ek_ token");

    auto* version = cli.add_subcommand("version", "Print the version");

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return cli.exit(e);
    }

    if (*reference) {
        std::fputs(config::configuration_reference_markdown(serve_opts.flag_names).c_str(), stdout);
        return 0;
    }
    if (*version) {
        std::printf("voicegate %s (C++20, Boost %d.%d)\n", VOICEGATE_VERSION,
                    BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000);
        return 0;
    }
    if (*emulate) {
        log::init({emu_log_level, false, true});
        const int rc = app::run_emulator(emu_listen, emu_threads, emu_options);
        log::shutdown();
        return rc;
    }
    if (*migrate) {
        return cmd_migrate(migrate_opts, rebuild_rollups);
    }
    if (*usage) {
        return cmd_usage(usage_opts, usage_cli);
    }
    if (*seed) {
        return cmd_seed(seed_opts, seed_plan, seed_append);
    }
    if (*token) {
        return cmd_token(token_common, token_opts);
    }
    return cmd_serve(serve_opts);
}
