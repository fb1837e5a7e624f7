#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "store/open_store.hpp"

namespace voicegate::cli {

namespace {

struct MigrateOptions {
    CommonOptions common;
    bool rebuild_rollups = false;
};

int run_migrate(const MigrateOptions& o) {
    auto cfg = load(o.common);
    if (!cfg) {
        return 2;
    }
    auto summary = store::migrate_database(cfg->store.url);
    if (!summary) {
        return failed("migrate", summary.error());
    }
    std::printf("%s: %s\n", store::redact_database_url(cfg->store.url).c_str(), summary->c_str());
    if (!o.rebuild_rollups) {
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

}  // namespace

Command add_migrate(CLI::App& cli) {
    auto o = std::make_shared<MigrateOptions>();
    auto* migrate = cli.add_subcommand("migrate", "Apply storage schema migrations and exit");
    add_config_options(migrate, o->common);
    migrate->add_flag("--rebuild-rollups", o->rebuild_rollups,
                      "After migrating, recompute the daily usage rollups (day x user x model) "
                      "from the sessions table, in one transaction (denial counts are kept)");
    return {migrate, [o] { return run_migrate(*o); }};
}

}  // namespace voicegate::cli
