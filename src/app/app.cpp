#include "app/app.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <malloc.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "alerts/notifier.hpp"
#include "api/access_config.hpp"
#include "api/admin_handlers.hpp"
#include "api/handlers.hpp"
#include "api/metrics_endpoint.hpp"
#include "app/telemetry.hpp"
#include "core/file.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "core/thread_name.hpp"
#include "emulator/emulator.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "net/listen.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "ratelimit/redis_limiter.hpp"
#include "store/open_store.hpp"
#include "upstream/openai_client.hpp"
#include "web/static_files.hpp"

namespace voicegate::app {
namespace asio = boost::asio;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::int64_t steady_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int loop_count(int configured) {
    if (configured > 0) {
        return configured;
    }
    const auto hw = static_cast<int>(std::thread::hardware_concurrency());
    return hw > 0 ? hw : 1;
}

// The event loops: one io_context per thread, share-nothing (STYLE performance note).
class Loops {
public:
    explicit Loops(int n) {
        for (int i = 0; i < n; ++i) {
            contexts_.push_back(std::make_unique<asio::io_context>(1));
        }
    }
    std::vector<asio::io_context*> pointers() const {
        std::vector<asio::io_context*> out;
        for (const auto& c : contexts_) {
            out.push_back(c.get());
        }
        return out;
    }
    void start() {
        for (auto& c : contexts_) {
            guards_.emplace_back(asio::make_work_guard(*c));
            threads_.emplace_back([ctx = c.get(), n = threads_.size() + 1] {
                set_thread_name("vg-loop-" + std::to_string(n));
                for (;;) {
                    try {
                        ctx->run();
                        return;
                    } catch (const std::exception& e) {
                        spdlog::error("event loop: unexpected exception: {}", e.what());
                    }
                }
            });
        }
    }
    /// Lets the loops run out of work (servers drained, acceptors closed) so every coroutine
    /// frame ends on its own thread; forces them to stop after `grace`.
    void stop(std::chrono::milliseconds grace) {
        guards_.clear();
        const auto deadline = std::chrono::steady_clock::now() + grace;
        for (auto& c : contexts_) {
            while (!c->stopped() && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
        for (auto& c : contexts_) {
            c->stop();
        }
        for (auto& t : threads_) {
            if (t.joinable()) {
                t.join();
            }
        }
        threads_.clear();
    }

private:
    std::vector<std::unique_ptr<asio::io_context>> contexts_;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
    std::vector<std::thread> threads_;
};

bool origin_allowed(const config::ServerConfig& s, std::string_view origin) {
    for (const auto& o : s.cors_origins) {
        if (o == "*" || o == origin) {
            return true;
        }
    }
    return false;
}

}  // namespace

struct App::Impl {
    config::Config cfg;
    std::shared_ptr<const Clock> clock;
    // Before everything that reports to it, so it outlives them.
    std::unique_ptr<Telemetry> telemetry;
    Loops loops;
    std::shared_ptr<emulator::Emulator> emu;
    std::unique_ptr<http::Server> emu_server;
    std::unique_ptr<store::SessionStore> store;
    std::unique_ptr<upstream::RealtimeApi> realtime;
    upstream::OpenAiClient* openai = nullptr;                  // `realtime`
    std::shared_ptr<upstream::HttpClient> http_client;         // for JWKS fetches
    std::unique_ptr<ratelimit::MemoryLimiter> memory_limiter;  // without REDIS_URL
    std::unique_ptr<ratelimit::AsyncLimiter> limiter;
    ratelimit::RedisLimiter* redis = nullptr;  // `limiter`, when REDIS_URL is set
    std::string redis_where;                   // its URL without the password
    // Access control and the handlers (built in build(), in this order).
    std::unique_ptr<auth::JwtTokenVerifier> verifier;  // null when auth is off
    net::IpAdmission admission;
    std::unique_ptr<api::RatePolicy> rates;
    std::unique_ptr<api::AdminAuth> admin_auth;
    std::unique_ptr<api::QuotaDenials> quota_denials;
    std::unique_ptr<api::TokenHandler> token;
    std::unique_ptr<api::EndHandler> end;
    std::unique_ptr<api::AdminHandler> admin;
    http::Router router;
    std::unique_ptr<http::Server> server;
    std::shared_ptr<upstream::HttpClient> webhook_client;  // alert webhooks
    std::unique_ptr<alerts::Notifier> notifier;            // with telemetry->detector
    std::shared_ptr<asio::steady_timer> alert_timer;       // on the first loop
    std::atomic<bool> alerts_stopping{false};
    // The usage gauges: today's figures and open sessions of every instance on this database,
    // read from the store's rollups in the background (a scrape never waits on the store).
    struct StoreUsage {
        std::mutex mutex;
        metrics::UsageSnapshot snapshot;
    };
    std::shared_ptr<StoreUsage> store_usage = std::make_shared<StoreUsage>();
    std::shared_ptr<asio::steady_timer> usage_timer;  // on the first loop
    std::atomic<bool> usage_stopping{false};
    // The refresh runs while /metrics is scraped; after kUsageDormantAfter without a scrape it
    // stops reading the store until the next scrape wakes it.
    static constexpr std::chrono::minutes kUsageDormantAfter{5};
    mutable std::atomic<std::int64_t> last_scrape_ms{0};  // steady clock
    mutable std::atomic<bool> usage_dormant{false};
    std::atomic<int> api_in_flight{0};  // API requests being handled (load shedding)
    int max_in_flight = 0;              // the cap on api_in_flight (0: none)
    // Hands memory freed after a burst back to the system once requests stop (release_memory).
    std::shared_ptr<asio::steady_timer> trim_timer;  // on the first loop
    std::atomic<bool> trim_stopping{false};
    // Writes the store's buffered denial counts every second and prunes the audit log and the
    // per-minute denial counts past their retention every hour (maintain_store).
    std::shared_ptr<asio::steady_timer> maintain_timer;  // on the first loop
    std::atomic<bool> maintain_stopping{false};

    std::mutex mu;
    std::condition_variable cv;
    bool stop_requested = false;
    bool started = false;
    bool stopped = false;

    Impl(config::Config c, std::shared_ptr<const Clock> k)
        : cfg(std::move(c)),
          clock(std::move(k)),
          telemetry(std::make_unique<Telemetry>(cfg, *clock)),
          loops(loop_count(cfg.server.threads)),
          max_in_flight(cfg.server.max_in_flight >= 0
                            ? cfg.server.max_in_flight
                            : 256 * static_cast<int>(loop_count(cfg.server.threads))) {}

    void build();
    void build_telemetry();
    asio::awaitable<http::Response> serve_metrics(const http::Request& req) const;
    asio::awaitable<void> run_alerts();
    asio::awaitable<void> refresh_usage();
    asio::awaitable<void> release_memory();
    asio::awaitable<void> maintain_store();
    asio::awaitable<bool> prune_store();
    void build_limiter();
    auth::JwksFetcher make_jwks_fetcher();
    void build_routes();
    asio::awaitable<http::Response> handle(http::Request& req);
};

store::StoreOptions store_options_for(const config::Config& config, const Clock* clock) {
    store::StoreOptions options;
    options.synchronous = config.store.sqlite_synchronous;
    options.batch_max = static_cast<std::size_t>(config.store.batch_max);
    options.clock = clock;
    options.prices = config.prices;
    options.denial_sampling.per_minute = config.store.denial_samples_per_minute;
    options.denial_sampling.per_second = config.store.denial_samples_per_second;
    return options;
}

void App::Impl::build() {
    auto store_options = store_options_for(cfg, clock.get());
    store_options.metrics = &telemetry->store;
    auto opened = store::open_store(cfg.store.url, store_options);
    if (!opened) {
        throw std::runtime_error("cannot open storage " +
                                 store::redact_database_url(cfg.store.url) + ": " +
                                 std::string(opened.error().public_message()) +
                                 (opened.error().details.empty()
                                      ? ""
                                      : " (" + redact_url_userinfo(opened.error().details) + ")"));
    }
    store = std::move(*opened);

    upstream::OpenAiOptions up;
    up.api_key = cfg.upstream.api_key;
    up.base_url = cfg.upstream.base_url;
    if (cfg.uses_emulator()) {
        // The in-process emulator listens on a private loopback port with a random key.
        emulator::EmulatorOptions eo = cfg.emulator.options;
        eo.api_key = random_id("sk-emulator-", 32);
        emu = std::make_shared<emulator::Emulator>(eo, *clock);
        http::ServerOptions so;
        so.host = "127.0.0.1";
        so.port = 0;
        so.name = "emulator";
        so.access_log = false;
        emu_server = std::make_unique<http::Server>(loops.pointers(), so, emu->handler());
        emu->set_connection_counter([s = emu_server.get()] { return s->connections_accepted(); });
        up.api_key = eo.api_key;
        up.base_url = "http://127.0.0.1:" + std::to_string(emu_server->port()) + "/v1";
    }
    up.connect_timeout = std::chrono::milliseconds(cfg.upstream.connect_timeout_ms);
    up.total_timeout = std::chrono::milliseconds(cfg.upstream.timeout_ms);
    up.max_retries = cfg.upstream.max_retries;
    up.pool_size = static_cast<std::size_t>(cfg.upstream.pool_size);
    up.ca_file = cfg.upstream.ca_file;
    up.metrics = &telemetry->upstream;
    auto client = std::make_unique<upstream::OpenAiClient>(up, loops.pointers());
    openai = client.get();
    realtime = std::move(client);

    build_limiter();
    {
        // Access control, then the handlers, each given only its own settings and pieces.
        rates = std::make_unique<api::RatePolicy>(api::rate_settings_from(cfg.limits), *limiter,
                                                  &telemetry->decisions);
        admission = api::ip_admission_from(cfg.limits);
        std::string jwks_text;
        if (cfg.auth.mode == "jwt" && !cfg.auth.jwks_file.empty()) {
            auto text = read_file(cfg.auth.jwks_file);
            if (!text) {
                throw std::runtime_error("JWT_JWKS_FILE: cannot read " + cfg.auth.jwks_file);
            }
            jwks_text = std::move(*text);
        }
        verifier = api::token_verifier_from(cfg.auth, std::move(jwks_text), *clock,
                                            make_jwks_fetcher());
        admin_auth = std::make_unique<api::AdminAuth>(cfg.auth.admin_token, verifier.get(), *clock);
        quota_denials = std::make_unique<api::QuotaDenials>(*clock);
        token = std::make_unique<api::TokenHandler>(
            api::TokenSettings{cfg.tokens, api::quota_limits(cfg.quota), cfg.server.dev},
            verifier.get(), *rates, *quota_denials, *realtime, *store, *clock, telemetry.get());
        end = std::make_unique<api::EndHandler>(cfg.server.dev, verifier.get(), *quota_denials,
                                                *store, *clock, telemetry.get());
        admin = std::make_unique<api::AdminHandler>(
            api::AdminSettings{cfg.server.dev,
                               static_cast<std::int64_t>(cfg.quota.session_max_minutes) * 60'000},
            *admin_auth, *store, *clock);
    }
    build_routes();

    http::ServerOptions so;
    so.host = cfg.server.host;
    so.port = cfg.server.port;
    so.body_limit = cfg.server.body_limit;
    so.header_limit = cfg.server.header_limit;
    so.request_timeout = std::chrono::milliseconds(cfg.server.request_timeout_ms);
    so.idle_timeout = std::chrono::milliseconds(cfg.server.idle_timeout_ms);
    so.access_log = cfg.log.access;
    so.name = "api";
    so.on_complete = [m = telemetry->http.get()](const http::Request& r, int status, double s) {
        m->record(r.route, status, s);
    };
    server = std::make_unique<http::Server>(loops.pointers(), so,
                                            [this](http::Request& r) { return handle(r); });
    build_telemetry();
}

void App::Impl::build_telemetry() {
    auto target = store::parse_database_url(cfg.store.url);
    metrics::BuildInfo bi;
    bi.version = VOICEGATE_VERSION;
    bi.store =
        target && target->engine == store::DatabaseTarget::Engine::postgres ? "postgres" : "sqlite";
    bi.limiter = cfg.limits.redis_url ? "redis" : "memory";
    metrics::register_process(telemetry->registry, bi, *clock, [s = server.get()] {
        return static_cast<double>(s->active_connections());
    });
    metrics::register_usage(
        telemetry->registry, *clock,
        [u = store_usage] {
            std::lock_guard lock(u->mutex);
            return u->snapshot;
        },
        1'000,
        "all instances on this database: open = issued within VOICEGATE_SESSION_MAX_MINUTES and "
        "not "
        "ended; today = sessions issued today (UTC), from the daily rollups; refreshed every 5 s "
        "while /metrics is scraped");
    usage_timer = std::make_shared<asio::steady_timer>(*loops.pointers().front());
    trim_timer = std::make_shared<asio::steady_timer>(*loops.pointers().front());
    maintain_timer = std::make_shared<asio::steady_timer>(*loops.pointers().front());
    telemetry->registry.callback(
        "voicegate_upstream_connections_opened_total",
        "TCP connections opened to the upstream API (steady state: no new ones per token).",
        "counter", [client = openai](auto& out) {
            out.push_back({{}, static_cast<double>(client->http().connections_opened())});
        });
    if (!telemetry->detector) {
        return;
    }
    alerts::NotifierOptions no;
    no.webhook_url = cfg.alerts.webhook_url;
    no.timeout = std::chrono::milliseconds(cfg.alerts.webhook_timeout_ms);
    no.retries = cfg.alerts.webhook_retries;
    if (!no.webhook_url.empty()) {
        upstream::HttpClientOptions ho;
        ho.connect_timeout = no.timeout;  // the system CAs: webhooks go elsewhere than OpenAI
        ho.pool_size = 2;
        webhook_client = std::make_shared<upstream::HttpClient>(loops.pointers(), ho);
    }
    notifier = std::make_unique<alerts::Notifier>(std::move(no), *store, webhook_client,
                                                  telemetry->registry);
    alert_timer = std::make_shared<asio::steady_timer>(*loops.pointers().front());
}

asio::awaitable<void> App::Impl::refresh_usage() {
    const auto timer = usage_timer;
    const auto usage = store_usage;
    last_scrape_ms = steady_now_ms();  // read for a while after start
    for (;;) {
        store::LiveQuery q;
        q.now_ms = clock->now_ms();
        q.max_age_ms = static_cast<std::int64_t>(cfg.quota.session_max_minutes) * 60'000;
        q.limit = 0;  // the count and today's totals only
        auto live = co_await store->live(q);
        if (live) {
            std::lock_guard lock(usage->mutex);
            usage->snapshot.open_sessions = static_cast<double>(live->open_sessions);
            usage->snapshot.billable_seconds_today =
                static_cast<double>(live->today.billable_ms) / 1000.0;
            usage->snapshot.cost_usd_today = live->today.cost_usd;
        } else {
            spdlog::warn("metrics: usage gauges not refreshed: {}", live.error().details);
        }
        // Without a recent scrape nobody reads the gauges: sleep until serve_metrics() cancels
        // the wait (the scrape that wakes it sees the figures of the last refresh).
        const bool scraped = steady_now_ms() - last_scrape_ms.load() <
                             std::chrono::milliseconds(kUsageDormantAfter).count();
        usage_dormant = !scraped;
        if (scraped) {
            timer->expires_after(std::chrono::seconds(5));
        } else {
            timer->expires_at(asio::steady_timer::time_point::max());
        }
        auto [ec] = co_await timer->async_wait(kUseTuple);
        (void)ec;  // cancelled: a scrape woke it, or shutdown
        if (usage_stopping.load()) {
            co_return;
        }
    }
}

// After a burst an idle server would go on holding its peak: the store's page caches and mapped
// database pages, and what malloc keeps for reuse (per-thread arenas, buffers of closed
// connections). Once a second without a finished request follows a busy spell, the store lets
// go of its caches and malloc_trim() returns free pages: a few milliseconds, once per quiet
// spell, never under load.
asio::awaitable<void> App::Impl::release_memory() {
    constexpr int kQuietTicks = 2;  // of 500 ms
    const auto timer = trim_timer;
    std::uint64_t seen = 0;
    bool busy = false;
    int quiet = 0;
    for (;;) {
        timer->expires_after(std::chrono::milliseconds(500));
        auto [ec] = co_await timer->async_wait(kUseTuple);
        if (ec || trim_stopping.load()) {
            co_return;  // cancelled at shutdown
        }
        const std::uint64_t now = telemetry->http ? telemetry->http->total() : 0;
        if (now != seen) {
            seen = now;
            busy = true;
            quiet = 0;
        } else if (busy && ++quiet >= kQuietTicks) {
            busy = false;
            store->release_memory();
            malloc_trim(0);
        }
    }
}

// Refusals are counted in memory (SessionStore::record_denial); this writes them once a second,
// so a flood of refusals costs one small transaction a second, not one per request. Each hour
// (and soon after start) the rows past retention are deleted in batches of a few thousand, a
// pause between batches, so the writer is never held for long.
asio::awaitable<void> App::Impl::maintain_store() {
    constexpr int kPruneEveryTicks = 3600;
    const auto timer = maintain_timer;
    int ticks = kPruneEveryTicks - 10;  // the first prune 10 s after start
    for (;;) {
        timer->expires_after(std::chrono::seconds(1));
        auto [ec] = co_await timer->async_wait(kUseTuple);
        if (ec || maintain_stopping.load()) {
            co_return;  // cancelled at shutdown; close() writes what is left
        }
        if (auto r = co_await store->flush_denials(); !r) {
            spdlog::warn("store: denial counts not written yet (kept for the next try): {}",
                         r.error().details);
        }
        if (++ticks >= kPruneEveryTicks) {
            ticks = 0;
            if (!co_await prune_store()) {
                co_return;
            }
        }
    }
}

// One retention pass; false when shutdown interrupted it.
asio::awaitable<bool> App::Impl::prune_store() {
    const auto timer = maintain_timer;
    const store::PruneRequest request = store::retention_request(
        clock->now_ms(), cfg.store.events_retention_days, cfg.store.denial_counts_retention_days);
    if (request.events_before_ms == 0 && request.denials_before_minute == 0) {
        co_return true;
    }
    store::PruneReport total;
    for (;;) {
        auto step = co_await store->prune(request);
        if (!step) {
            spdlog::warn("store: retention prune failed (retried next hour): {}",
                         step.error().details);
            break;
        }
        telemetry->store.pruned(static_cast<std::uint64_t>(step->events),
                                static_cast<std::uint64_t>(step->denial_rows));
        total.events += step->events;
        total.denial_rows += step->denial_rows;
        if (step->events < request.limit && step->denial_rows < request.limit) {
            break;
        }
        // A pause between batches, during which the writer serves requests (and denials are
        // flushed: a long backlog must not hold them back).
        timer->expires_after(std::chrono::milliseconds(50));
        auto [ec] = co_await timer->async_wait(kUseTuple);
        if (ec || maintain_stopping.load()) {
            co_return false;
        }
        (void)co_await store->flush_denials();
    }
    if (total.events > 0 || total.denial_rows > 0) {
        spdlog::info("store: retention removed {} events and {} per-minute denial rows",
                     total.events, total.denial_rows);
    }
    co_return true;
}

asio::awaitable<void> App::Impl::run_alerts() {
    const auto timer = alert_timer;
    for (;;) {
        timer->expires_after(std::chrono::seconds(cfg.alerts.interval_s));
        auto [ec] = co_await timer->async_wait(kUseTuple);
        if (ec || alerts_stopping.load()) {
            co_return;  // cancelled at shutdown
        }
        alerts::Totals totals;
        totals.upstream_calls = telemetry->upstream.calls();
        totals.upstream_errors = telemetry->upstream.error_calls();
        for (auto& alert : telemetry->detector->evaluate(totals)) {
            co_await notifier->deliver(std::move(alert));
        }
        if (alerts_stopping.load()) {
            co_return;
        }
    }
}

asio::awaitable<http::Response> App::Impl::serve_metrics(const http::Request& req) const {
    const auto access = api::metrics_access(cfg.metrics, req);
    bool allowed = access == api::MetricsAccess::allowed;
    if (access == api::MetricsAccess::ask_admin) {
        auto is_admin = co_await admin_auth->is_admin(req);
        if (!is_admin) {
            co_return http::error_response(is_admin.error(), cfg.server.dev);  // 429
        }
        allowed = *is_admin;
    }
    if (allowed) {
        last_scrape_ms = steady_now_ms();
        if (usage_timer && usage_dormant.exchange(false)) {
            asio::post(*loops.pointers().front(), [t = usage_timer] { t->cancel(); });
        }
        co_return api::metrics_response(telemetry->registry.render());
    }
    auto res = http::error_response(fail(Error::unauthorized, "A metrics token is required."),
                                    cfg.server.dev);
    res.set("WWW-Authenticate", "Bearer realm=\"voicegate-metrics\"");
    co_return res;
}

void App::Impl::build_limiter() {
    if (!cfg.limits.redis_url) {
        memory_limiter = std::make_unique<ratelimit::MemoryLimiter>(*clock);
        limiter = std::make_unique<ratelimit::SyncLimiterAdapter>(*memory_limiter);
        return;
    }
    ratelimit::RedisLimiterOptions ro;
    redis_where = cfg.limits.redis_url->redacted();
    ro.url = *cfg.limits.redis_url;
    ro.key_prefix = cfg.limits.redis_key_prefix;
    ro.timeout = std::chrono::milliseconds(cfg.limits.redis_timeout_ms);
    ro.fail_open = cfg.limits.redis_fail_open;
    auto redis_limiter = std::make_unique<ratelimit::RedisLimiter>(std::move(ro), loops.pointers());
    redis = redis_limiter.get();
    limiter = std::move(redis_limiter);
}

void App::Impl::build_routes() {
    router.add("POST", "/api/realtime/token",
               [this](http::Request& r) { return token->handle(r); });
    router.add("POST", "/api/realtime/end", [this](http::Request& r) { return end->handle(r); });
    router.add("GET", "/api/realtime/options",
               [this](http::Request&) -> asio::awaitable<http::Response> {
                   co_return api::options_response(cfg);
               });
    router.add("GET", "/healthz", [](http::Request&) -> asio::awaitable<http::Response> {
        co_return api::health_response();
    });
    router.add("GET", "/readyz", [this](http::Request&) -> asio::awaitable<http::Response> {
        co_return api::ready_response(*store);
    });
    if (cfg.metrics.enabled) {
        router.add("GET", "/metrics", [this](http::Request& r) -> asio::awaitable<http::Response> {
            co_return co_await serve_metrics(r);
        });
    }
    router.add("GET", "/api/admin/usage", [this](http::Request& r) { return admin->usage(r); });
    router.add("GET", "/api/admin/live", [this](http::Request& r) { return admin->live(r); });
    router.add("GET", "/api/admin/sessions",
               [this](http::Request& r) { return admin->sessions(r); });
    router.add("GET", "/api/admin/events", [this](http::Request& r) { return admin->events(r); });
    if (emu) {
        // The in-process emulator's calls endpoint on this origin: the console's live session
        // (or an app in development) posts its SDP offer here exactly as it would to OpenAI.
        router.add("POST", "/v1/realtime/calls",
                   [this](http::Request& r) { return emu->handle(r); });
    }
    auto serve_static = [this](http::Request& r) -> asio::awaitable<http::Response> {
        co_return api::static_response(r, cfg.server.dev,
                                       cfg.uses_emulator() ? "" : cfg.upstream.base_url);
    };
    for (auto path : web::asset_paths()) {
        router.add("GET", std::string(path), serve_static, "static");
        // A directory's index.html is served at the directory too: "/", "/dashboard/",
        // "/dashboard".
        constexpr std::string_view kIndex = "/index.html";
        if (path.ends_with(kIndex)) {
            auto dir = path.substr(0, path.size() - kIndex.size() + 1);
            router.add("GET", std::string(dir), serve_static, "static");
            if (dir.size() > 1) {
                router.add("GET", std::string(dir.substr(0, dir.size() - 1)), serve_static,
                           "static");
            }
        }
    }
    telemetry->routes(router.routes());
}

auth::JwksFetcher App::Impl::make_jwks_fetcher() {
    if (cfg.auth.jwks_url.empty()) {
        return {};
    }
    upstream::HttpClientOptions ho;
    ho.connect_timeout = std::chrono::milliseconds(cfg.upstream.connect_timeout_ms);
    ho.ca_file = cfg.upstream.ca_file;
    http_client = std::make_shared<upstream::HttpClient>(loops.pointers(), ho);
    return [client = http_client](const std::string& url) -> asio::awaitable<Result<std::string>> {
        auto base = upstream::parse_base_url(url);
        if (!base) {
            co_return fail(Error::bad_request, {}, "bad JWKS URL");
        }
        upstream::HttpRequest req;
        req.method = "GET";
        req.target = base->path.empty() ? "/" : base->path;
        req.headers.emplace_back("Accept", "application/json");
        auto res = co_await client->request(
            base->origin, req, std::chrono::steady_clock::now() + std::chrono::seconds(10));
        if (!res) {
            co_return fail(Error::upstream_unavailable, {}, "JWKS fetch failed");
        }
        if (res->status != 200) {
            co_return fail(Error::upstream_rejected, {},
                           "JWKS HTTP " + std::to_string(res->status));
        }
        co_return std::move(res->body);
    };
}

asio::awaitable<http::Response> App::Impl::handle(http::Request& req) {
    req.route = router.route_index(req.path);
    req.client_ip = admission.client_ip(req.client_ip, req.headers);
    if (auto admitted = admission.admit(req.client_ip); !admitted) {
        co_return http::error_response(admitted.error(), cfg.server.dev);
    }
    const auto origin = req.header("origin");
    const bool cors = origin && origin_allowed(cfg.server, *origin);
    // With CORS configured every answer depends on Origin (reflected or not): caches must key
    // on it, allowed or refused, preflight or not.
    const bool vary_origin = !cfg.server.cors_origins.empty();
    if (req.method == "OPTIONS") {
        // CORS preflight (or a plain OPTIONS): answer with what the route allows.
        const auto allow = router.allowed_methods(req.path);
        if (allow.empty()) {
            co_return http::error_response(fail(Error::not_found), cfg.server.dev);
        }
        http::Response res;
        res.status = 204;
        res.content_type.clear();
        res.set("Allow", allow + ", OPTIONS");
        if (cors) {
            res.set("Access-Control-Allow-Origin", std::string(*origin));
            res.set("Access-Control-Allow-Methods", allow + ", OPTIONS");
            res.set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id");
            res.set("Access-Control-Max-Age", "600");
        }
        if (vary_origin) {
            res.set("Vary", "Origin");
        }
        co_return res;
    }
    // Load shedding: beyond max_in_flight API requests at once, answer 503 at once (cheap, with
    // Retry-After) rather than queue behind the upstream pool, so accepted requests keep a
    // bounded latency under overload and clients back off.
    struct InFlight {
        std::atomic<int>* n = nullptr;
        ~InFlight() {
            if (n != nullptr) {
                n->fetch_sub(1, std::memory_order_relaxed);
            }
        }
    } in_flight;
    if (max_in_flight > 0 && req.path.starts_with("/api/")) {
        if (api_in_flight.fetch_add(1, std::memory_order_relaxed) >= max_in_flight) {
            api_in_flight.fetch_sub(1, std::memory_order_relaxed);
            auto failure =
                fail(Error::overloaded, {}, std::to_string(max_in_flight) + " requests in flight");
            failure.retry_after_s = 1;
            auto res = http::error_response(failure, cfg.server.dev);
            if (cors) {
                res.set("Access-Control-Allow-Origin", std::string(*origin));
                res.set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
                res.set("Vary", "Origin");
            }
            co_return res;
        }
        in_flight.n = &api_in_flight;
    }
    // The operator's per-route limits (VOICEGATE_RATE_ROUTES) come before the handler.
    api::RateVerdict limits;
    if (const auto* rate = rates->route_rate(req.path)) {
        limits = co_await rates->limit_route(req.path, *rate, req.client_ip);
    }
    http::Response res;
    if (limits.allowed) {
        res = co_await router.dispatch(req, cfg.server.dev);
    } else {
        res = http::error_response(limits.allowed.error(), cfg.server.dev);
    }
    limits.add_headers_to(res);
    if (cors) {
        res.set("Access-Control-Allow-Origin", std::string(*origin));
        res.set("Access-Control-Expose-Headers",
                "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy");
    }
    if (vary_origin) {
        res.set("Vary", "Origin");
    }
    co_return res;
}

App::App(config::Config config, std::shared_ptr<const Clock> clock)
    : impl_(std::make_unique<Impl>(std::move(config),
                                   clock ? std::move(clock) : std::make_shared<SystemClock>())) {
    impl_->build();
}

App::~App() {
    if (impl_->started && !impl_->stopped) {
        request_stop();
        wait();
    }
}

void App::start() {
    impl_->loops.start();
    if (impl_->emu_server) {
        impl_->emu_server->start();
    }
    if (impl_->redis != nullptr) {
        impl_->redis->start();  // connects now, so reachability is logged before any request
    }
    impl_->server->start();
    if (impl_->alert_timer) {
        asio::co_spawn(*impl_->loops.pointers().front(), impl_->run_alerts(), asio::detached);
    }
    if (impl_->usage_timer) {
        asio::co_spawn(*impl_->loops.pointers().front(), impl_->refresh_usage(), asio::detached);
    }
    if (impl_->trim_timer) {
        asio::co_spawn(*impl_->loops.pointers().front(), impl_->release_memory(), asio::detached);
    }
    if (impl_->maintain_timer) {
        asio::co_spawn(*impl_->loops.pointers().front(), impl_->maintain_store(), asio::detached);
    }
    impl_->started = true;
    if (impl_->cfg.uses_emulator()) {
        spdlog::warn(
            "OPENAI_API_KEY is not set: using the BUILT-IN EMULATOR; tokens are fake and "
            "will not work with OpenAI (set OPENAI_API_KEY for real tokens)");
    }
    spdlog::info("voicegate {} listening on {} ({} event loops, storage {})", VOICEGATE_VERSION,
                 base_url(), impl_->loops.pointers().size(),
                 store::redact_database_url(impl_->cfg.store.url));
    if (impl_->redis != nullptr) {
        spdlog::info("rate limits: shared in Redis {} (failing {} while it is unreachable)",
                     impl_->redis_where, impl_->cfg.limits.redis_fail_open ? "open" : "closed");
    }
    spdlog::info("test console at {}/", base_url());
}

void App::request_stop() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->stop_requested = true;
    }
    impl_->cv.notify_all();
}

void App::wait() {
    {
        std::unique_lock lock(impl_->mu);
        impl_->cv.wait(lock, [this] { return impl_->stop_requested; });
        if (impl_->stopped) {
            return;
        }
        impl_->stopped = true;
    }
    auto& d = *impl_;
    spdlog::info("shutting down: draining {} connection(s)", d.server->active_connections());
    d.server->begin_drain();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(d.cfg.server.drain_timeout_ms);
    while (d.server->active_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (d.server->active_connections() > 0) {
        const auto open = d.server->active_connections();
        const auto answered = d.server->abort_in_flight();
        spdlog::warn(
            "drain deadline reached with {} connection(s) open; answered {} request(s) "
            "in flight with 503 shutting_down and closed them",
            open, answered);
    }
    if (d.redis != nullptr) {
        d.redis->shutdown();  // its connections would keep the loops from running out of work
    }
    if (d.usage_timer) {
        d.usage_stopping = true;
        asio::post(*d.loops.pointers().front(), [t = d.usage_timer] { t->cancel(); });
    }
    if (d.trim_timer) {
        d.trim_stopping = true;
        asio::post(*d.loops.pointers().front(), [t = d.trim_timer] { t->cancel(); });
    }
    if (d.maintain_timer) {
        d.maintain_stopping = true;
        asio::post(*d.loops.pointers().front(), [t = d.maintain_timer] { t->cancel(); });
    }
    if (d.alert_timer) {
        d.alerts_stopping = true;
        asio::post(*d.loops.pointers().front(), [t = d.alert_timer] { t->cancel(); });
    }
    if (d.emu_server) {
        d.emu_server->begin_drain();
        const auto emu_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (d.emu_server->active_connections() > 0 &&
               std::chrono::steady_clock::now() < emu_deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    d.store->close();  // writes the denials counted since the last flush
    d.loops.stop(std::chrono::seconds(2));
    spdlog::info("stopped");
}

int App::run_until_signal() {
    asio::io_context signals_ctx(1);
    asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (!ec) {
            spdlog::info("received signal {}; stopping gracefully", sig);
            request_stop();
        }
    });
    std::thread signal_thread([&] { signals_ctx.run(); });
    start();
    wait();
    signals.cancel();
    signals_ctx.stop();
    signal_thread.join();
    return 0;
}

std::uint16_t App::port() const {
    return impl_->server->port();
}

std::string App::base_url() const {
    const auto& host = impl_->cfg.server.host;
    const bool v6 = host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

int run_emulator(const std::string& listen, int threads,
                 const std::map<std::string, std::string>& options) {
    std::string host;
    std::uint16_t port = 0;
    if (!net::parse_listen(listen, host, port)) {
        spdlog::error("--listen must be host:port, got \"{}\"", listen);
        return 2;
    }
    emulator::EmulatorOptions eo;
    if (auto problems = emulator::apply_emulator_options(options, eo); !problems.empty()) {
        for (const auto& p : problems) {
            spdlog::error("emulator: {}", p);
        }
        return 2;
    }
    Loops loops(loop_count(threads));
    auto emu = std::make_shared<emulator::Emulator>(eo);
    http::ServerOptions so;
    so.host = host;
    so.port = port;
    so.name = "emulator";
    auto server = std::make_unique<http::Server>(loops.pointers(), so, emu->handler());
    emu->set_connection_counter([s = server.get()] { return s->connections_accepted(); });
    asio::io_context signals_ctx(1);
    asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
    signals.async_wait([](const boost::system::error_code&, int) {});
    loops.start();
    server->start();
    spdlog::info("emulator listening on http://{}:{} (OpenAI base URL: http://{}:{}/v1)", host,
                 server->port(), host, server->port());
    signals_ctx.run();
    spdlog::info("emulator stopping");
    server->begin_drain();
    loops.stop(std::chrono::seconds(2));
    return 0;
}

}  // namespace voicegate::app
