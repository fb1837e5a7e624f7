#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/usage_report.hpp"
#include "core/log.hpp"

namespace voicegate::cli {

namespace {

struct UsageOptions {
    CommonOptions common;
    UsageCliOptions report;
};

int run_usage(const UsageOptions& o) {
    auto cfg = load_and_start_logging(o.common);
    if (!cfg) {
        return 2;
    }
    SystemClock clock;
    auto query = usage_query_from(o.report, clock.now_ms() / 86'400'000);
    if (!query) {
        std::fprintf(stderr, "voicegate usage: %s\n",
                     std::string(query.error().public_message()).c_str());
        return 2;
    }
    auto store = open_store_or_report(*cfg, "usage", &clock);
    if (!store) {
        return 1;
    }
    auto report = run_usage_query(*store, *query);
    store->close();
    log::shutdown();
    if (!report) {
        return failed("usage", report.error());
    }
    std::fputs(render_usage(*report, *query, o.report.format).c_str(), stdout);
    return 0;
}

}  // namespace

Command add_usage(CLI::App& cli) {
    auto o = std::make_shared<UsageOptions>();
    auto& r = o->report;
    auto* usage = cli.add_subcommand(
        "usage",
        "Print usage (sessions, minutes, estimated cost, endedBy, denials) from the database");
    add_config_options(usage, o->common);
    usage->add_option("--since", r.since,
                      "Nd, Nw or YYYY-MM-DD (default 30d: the last 30 UTC days)");
    usage->add_option("--until", r.until, "YYYY-MM-DD, inclusive (default today, UTC)");
    usage->add_option("--user", r.user, "only this user id");
    usage->add_option("--model", r.model, "only this model");
    usage->add_option("--group-by", r.group_by, "day, user or model (default day)");
    usage->add_option("--format", r.format,
                      "table, json (the admin API's body) or csv (default table)");
    usage->add_option("--limit", r.limit,
                      "--group-by user: most rows, by billable minutes (default 100)");
    usage->footer(
        "\nReads the daily rollups, as GET /api/admin/usage does (the same numbers). Examples:\n"
        "  voicegate usage --since 7d\n"
        "  voicegate usage --since 2026-11-01 --until 2026-11-30 --group-by user --format csv\n");
    return {usage, [o] { return run_usage(*o); }};
}

}  // namespace voicegate::cli
