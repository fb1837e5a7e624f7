#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "app/app.hpp"
#include "cli/commands.hpp"
#include "core/log.hpp"

namespace voicegate::cli {

namespace {

int run_serve(const CommonOptions& common) {
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

}  // namespace

Command add_serve(CLI::App& cli, const std::shared_ptr<CommonOptions>& options) {
    auto& o = *options;
    auto* serve = cli.add_subcommand("serve", "Run the service (default)");
    add_config_options(serve, o);
    add_flag(serve, o, "--listen", "VOICEGATE_LISTEN");
    add_flag(serve, o, "--threads", "VOICEGATE_THREADS");
    add_flag(serve, o, "--token-ttl", "VOICEGATE_TOKEN_TTL");
    add_flag(serve, o, "--cors-origins", "VOICEGATE_CORS_ORIGINS");
    add_flag(serve, o, "--base-url", "OPENAI_BASE_URL");
    add_flag(serve, o, "--quota-concurrent", "VOICEGATE_QUOTA_CONCURRENT");
    add_flag(serve, o, "--quota-minutes-per-day", "VOICEGATE_QUOTA_MINUTES_PER_DAY");
    add_flag(serve, o, "--quota-sessions-per-day", "VOICEGATE_QUOTA_SESSIONS_PER_DAY");
    add_flag(serve, o, "--session-max-minutes", "VOICEGATE_SESSION_MAX_MINUTES");
    add_switch(serve, o, "--emulator", "VOICEGATE_EMULATOR");
    add_switch(serve, o, "--dev", "VOICEGATE_DEV");
    serve->footer(variables_help());
    return {serve, [options] { return run_serve(*options); }};
}

}  // namespace voicegate::cli
