// Admin usage query over a bulk-filled history (SPEC §9: under 50 ms over 1,000,000 sessions).
// Usage: voicegate_usage_bench DATABASE_URL [SESSIONS [nofill]]   (an empty database is filled;
// with nofill the existing history is only re-rolled-up)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "store/open_store.hpp"
#include "store/quota.hpp"
#include "support/run_coro.hpp"

using namespace voicegate;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DATABASE_URL [SESSIONS]\n", argv[0]);
        return 2;
    }
    const std::string url = argv[1];
    store::BulkFillOptions fill;
    fill.sessions = argc > 2 ? std::stoll(argv[2]) : 1'000'000;
    fill.end_ms = 1'800'000'000'000;
    auto migrated = store::migrate_database(url);
    if (!migrated) {
        std::fprintf(stderr, "migrate: %s\n", migrated.error().details.c_str());
        return 1;
    }
    const bool refill = !(argc > 3 && std::string(argv[3]) == "nofill");
    const auto t0 = std::chrono::steady_clock::now();
    auto filled = refill ? store::bulk_fill_database(url, fill) : store::rebuild_database_rollups(url);
    if (!filled) {
        std::fprintf(stderr, "fill: %s\n", filled.error().details.c_str());
        return 1;
    }
    const auto fill_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("filled %lld sessions, %lld denials -> %lld usage rows in %.1f s\n",
                static_cast<long long>(filled->sessions), static_cast<long long>(filled->denials),
                static_cast<long long>(filled->usage_rows), fill_s);
    auto opened = store::open_store(url, store::StoreOptions{});
    if (!opened) {
        std::fprintf(stderr, "open: %s\n", opened.error().details.c_str());
        return 1;
    }
    auto& s = **opened;
    boost::asio::io_context io;
    const std::int64_t last = store::quota_day(fill.end_ms - 1);
    for (const char* group : {"day", "user", "model"}) {
        std::vector<double> ms;
        for (int i = 0; i < 7; ++i) {
            store::UsageQuery q;
            q.from_day = last - 29;
            q.to_day = last;
            q.group_by = group;
            const auto a = std::chrono::steady_clock::now();
            auto r = test::run_coro(io, s.usage(q));
            ms.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a)
                    .count());
            if (!r) {
                std::fprintf(stderr, "usage: %s\n", r.error().details.c_str());
                return 1;
            }
            if (i == 0) {
                std::printf("groupBy=%s: %zu rows, %lld sessions in 30 days\n", group,
                            r->rows.size(), static_cast<long long>(r->totals.sessions));
            }
        }
        std::sort(ms.begin(), ms.end());
        std::printf("groupBy=%-5s 30 days: median %.2f ms, max %.2f ms\n", group, ms[ms.size() / 2],
                    ms.back());
    }
    s.close();
    return 0;
}
