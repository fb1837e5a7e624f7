#include <cstdio>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/seed_generator.hpp"
#include "core/log.hpp"
#include "store/open_store.hpp"

namespace voicegate::cli {

namespace {

struct SeedOptions {
    CommonOptions common;
    SeedPlan plan;
    bool append = false;
};

// Progress on stderr: a bar redrawn in place on a terminal, a line per tenth elsewhere.
std::function<void(const SeedProgress&)> progress_printer() {
    const bool tty = isatty(fileno(stderr)) != 0;
    return [tty, last_decile = -1](const SeedProgress& p) mutable {
        if (tty) {
            std::fprintf(stderr, "\r%s ", render_progress(p).c_str());
            if (p.finished) {
                std::fputc('\n', stderr);
            }
            return;
        }
        // Not a terminal (CI, a log file): a line per tenth, and the last one.
        const int decile = p.total > 0 ? static_cast<int>(p.done * 10 / p.total) : 10;
        if (decile != last_decile || p.finished) {
            last_decile = decile;
            std::fprintf(stderr, "%s\n", render_progress(p).c_str());
        }
    };
}

int run_seed_command(const SeedOptions& o) {
    auto cfg = load_and_start_logging(o.common);
    if (!cfg) {
        return 2;
    }
    const std::string where = store::redact_database_url(cfg->store.url);
    SystemClock clock;
    SeedPlan plan = o.plan;
    plan.now_ms = clock.now_ms();
    auto store = open_store_or_report(*cfg, "seed", &clock);
    if (!store) {
        return 1;
    }
    if (!o.append) {
        auto held = holds_sessions(*store);
        if (!held) {
            return failed("seed: cannot read " + where, held.error());
        }
        if (*held) {
            store->close();
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
    auto seeded = run_seed(*store, plan, progress_printer());
    store->close();
    log::shutdown();
    if (!seeded) {
        return failed("seed: stopped", seeded.error());
    }
    std::fprintf(stderr, "voicegate seed: done; users are named seed-user-NNNNN\n");
    return 0;
}

}  // namespace

Command add_seed(CLI::App& cli) {
    auto o = std::make_shared<SeedOptions>();
    auto& plan = o->plan;
    auto* seed = cli.add_subcommand(
        "seed", "Fill the database with realistic synthetic sessions (for demos and benchmarks)");
    add_config_options(seed, o->common);
    seed->add_option("--sessions", plan.sessions, "sessions to write (default 10000)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}));
    seed->add_option("--users", plan.users, "users, with Zipf-skewed activity (default 5000)")
        ->check(CLI::Range(1, 10'000'000));
    seed->add_option("--days", plan.days, "spread over the last N UTC days up to now (default 90)")
        ->check(CLI::Range(1, 3660));
    seed->add_option("--never-ended", plan.never_ended,
                     "share of sessions never ended (default 0.1)")
        ->check(CLI::Range(0.0, 1.0));
    seed->add_option("--seed", plan.seed, "random seed (default 42)");
    seed->add_flag("--append", o->append,
                   "add to a database that already holds sessions (refused otherwise)");
    seed->footer(
        "\nWrites through the same store calls as the service (sessions, events, rollups), in "
        "group commits.\nSeeded users are named seed-user-NNNNN. Example:\n"
        "  voicegate seed --sessions 1000000 --database-url sqlite:demo.db\n");
    return {seed, [o] { return run_seed_command(*o); }};
}

}  // namespace voicegate::cli
