#include "app/app.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "alerts/notifier.hpp"
#include "api/access_config.hpp"
#include "api/admin_handlers.hpp"
#include "api/handlers.hpp"
#include "api/metrics_endpoint.hpp"
#include "api/pipeline.hpp"
#include "app/background.hpp"
#include "app/embedded_emulator.hpp"
#include "app/loops.hpp"
#include "app/routes.hpp"
#include "app/supervision.hpp"
#include "app/telemetry.hpp"
#include "core/file.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "emulator/emulator.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "ratelimit/redis_limiter.hpp"
#include "store/open_store.hpp"
#include "upstream/jwks_fetcher.hpp"
#include "upstream/openai_client.hpp"

namespace voicegate::app {
namespace asio = boost::asio;


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
    // Access control (built with the handlers, in this order).
    std::unique_ptr<auth::JwtTokenVerifier> verifier;  // null when auth is off
    net::IpAdmission admission;
    std::unique_ptr<api::RatePolicy> rates;
    std::unique_ptr<api::AdminAuth> admin_auth;
    std::unique_ptr<api::QuotaDenials> quota_denials;
    std::unique_ptr<api::TokenHandler> token;
    std::unique_ptr<api::EndHandler> end;
    // Where relayed and attached calls are recorded for supervision (the store's attach_call).
    std::unique_ptr<api::StoreCallRecorder> call_recorder;
    std::unique_ptr<api::CallsHandler> calls;
    std::unique_ptr<api::AttachHandler> attach;
    std::unique_ptr<api::AdminHandler> admin;
    http::Router router;
    std::unique_ptr<api::Pipeline> pipeline;
    std::unique_ptr<http::Server> server;
    std::shared_ptr<upstream::HttpClient> webhook_client;  // alert webhooks
    std::unique_ptr<alerts::Notifier> notifier;            // with telemetry->detector
    // The periodic work (usage gauges, memory release, store upkeep, alerts), on the first loop.
    std::unique_ptr<BackgroundTasks> background;
    // Server-side call control (SPEC §7.3): one sideband per relayed or attached call.
    std::string upstream_base;  // what the OpenAI client talks to (the embedded emulator's URL
    std::string upstream_key;   // and key without an OPENAI_API_KEY); a secret
    std::unique_ptr<metrics::SupervisionMetrics> supervision_metrics;
    std::unique_ptr<Supervision> supervision;

    std::mutex mu;
    std::condition_variable cv;
    bool stop_requested = false;
    bool started = false;
    bool stopped = false;

    Impl(config::Config c, std::shared_ptr<const Clock> k)
        : cfg(std::move(c)),
          clock(std::move(k)),
          telemetry(std::make_unique<Telemetry>(cfg, *clock)),
          loops(loop_count(cfg.server.threads)) {}

    void build();
    void open_storage();
    void build_upstream();
    void build_limiter();
    void build_gate_and_handlers();
    void build_server();
    void build_telemetry();
    void build_supervision();
    asio::awaitable<http::Response> serve_metrics(const http::Request& req) const;
    void drain();
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
    open_storage();
    build_upstream();
    build_limiter();
    build_gate_and_handlers();
    add_routes(router, {cfg, *token, *end, *calls, *attach, *admin, *store, emu.get(),
                        [this](const http::Request& r) { return serve_metrics(r); }});
    telemetry->routes(router.routes());
    build_server();
    build_telemetry();
    build_supervision();
    background = std::make_unique<BackgroundTasks>(
        loops.pointers().front()->get_executor(),
        BackgroundTasks::Deps{cfg, *clock, *store, *telemetry, notifier.get()});
}

void App::Impl::open_storage() {
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
}

// The OpenAI client, pointed at the in-process emulator when there is no API key.
void App::Impl::build_upstream() {
    upstream::OpenAiOptions up;
    up.api_key = cfg.upstream.api_key;
    up.base_url = cfg.upstream.base_url;
    if (cfg.uses_emulator()) {
        auto embedded = make_embedded_emulator(cfg, *clock, loops.pointers());
        emu = std::move(embedded.emulator);
        emu_server = std::move(embedded.server);
        up.api_key = std::move(embedded.api_key);
        up.base_url = std::move(embedded.base_url);
    }
    up.connect_timeout = std::chrono::milliseconds(cfg.upstream.connect_timeout_ms);
    up.total_timeout = std::chrono::milliseconds(cfg.upstream.timeout_ms);
    up.max_retries = cfg.upstream.max_retries;
    up.pool_size = static_cast<std::size_t>(cfg.upstream.pool_size);
    up.ca_file = cfg.upstream.ca_file;
    up.metrics = &telemetry->upstream;
    upstream_base = up.base_url;
    upstream_key = up.api_key;
    auto client = std::make_unique<upstream::OpenAiClient>(up, loops.pointers());
    openai = client.get();
    realtime = std::move(client);
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

// ---- access control and the handlers: built together (JWKS fetch, access pieces, handlers) ----
void App::Impl::build_gate_and_handlers() {
    auth::JwksFetcher fetch_jwks;
    if (!cfg.auth.jwks_url.empty()) {
        upstream::HttpClientOptions ho;
        ho.connect_timeout = std::chrono::milliseconds(cfg.upstream.connect_timeout_ms);
        ho.ca_file = cfg.upstream.ca_file;
        http_client = std::make_shared<upstream::HttpClient>(loops.pointers(), ho);
        fetch_jwks = upstream::http_jwks_fetch(http_client);
    }
    // Each handler is given only its own settings and pieces.
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
    verifier =
        api::token_verifier_from(cfg.auth, std::move(jwks_text), *clock, std::move(fetch_jwks));
    admin_auth = std::make_unique<api::AdminAuth>(cfg.auth.admin_token, verifier.get(), *clock);
    quota_denials = std::make_unique<api::QuotaDenials>(*clock);
    token = std::make_unique<api::TokenHandler>(
        api::TokenSettings{cfg.tokens, api::quota_limits(cfg.quota), cfg.server.dev},
        verifier.get(), *rates, *quota_denials, *realtime, *store, *clock, telemetry.get());
    end = std::make_unique<api::EndHandler>(cfg.server.dev, verifier.get(), *quota_denials, *store,
                                            *clock, telemetry.get());
    call_recorder = std::make_unique<api::StoreCallRecorder>(*store);
    calls = std::make_unique<api::CallsHandler>(
        api::CallsSettings{cfg.tokens, api::quota_limits(cfg.quota), cfg.server.dev,
                           api::safety_key_from(cfg.upstream)},
        verifier.get(), *rates, *quota_denials, *realtime, *store, *call_recorder, *clock,
        telemetry.get());
    attach = std::make_unique<api::AttachHandler>(
        api::AttachSettings{cfg.tokens, api::quota_limits(cfg.quota).reserve_ms, cfg.server.dev},
        verifier.get(), *store, *call_recorder, *clock, telemetry.get());
    admin = std::make_unique<api::AdminHandler>(
        api::AdminSettings{cfg.server.dev,
                           static_cast<std::int64_t>(cfg.quota.session_max_minutes) * 60'000},
        *admin_auth, *store, *clock);
}
// ---- end of access control and the handlers ----

void App::Impl::build_server() {
    api::PipelineOptions po;
    po.dev = cfg.server.dev;
    po.cors_origins = cfg.server.cors_origins;
    po.max_in_flight = cfg.server.max_in_flight >= 0
                           ? cfg.server.max_in_flight
                           : 256 * static_cast<int>(loop_count(cfg.server.threads));
    pipeline = std::make_unique<api::Pipeline>(admission, *rates, router, std::move(po));
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
    server = std::make_unique<http::Server>(
        loops.pointers(), so, [p = pipeline.get()](http::Request& r) { return p->handle(r); });
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
        telemetry->registry, *clock, [this] { return background->usage(); }, 1'000,
        "all instances on this database: open = issued within VOICEGATE_SESSION_MAX_MINUTES and "
        "not "
        "ended; today = sessions issued today (UTC), from the daily rollups; refreshed every 5 s "
        "while /metrics is scraped");
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
        background->scraped();
        co_return api::metrics_response(telemetry->registry.render());
    }
    auto res = http::error_response(fail(Error::unauthorized, "A metrics token is required."),
                                    cfg.server.dev);
    res.set("WWW-Authenticate", "Bearer realm=\"voicegate-metrics\"");
    co_return res;
}

namespace {

// The supervisor's hang-up: the upstream's, where a call already gone (404) is done.
asio::awaitable<Result<void>> hang_up(upstream::RealtimeApi* api, std::string call_id,
                                      std::string request_id) {
    auto r = co_await api->hangup(std::move(call_id), std::move(request_id));
    if (!r && r.error().code == Error::call_gone) {
        co_return Result<void>{};
    }
    co_return r;
}

asio::awaitable<Result<void>> append_event(store::SessionStore* store, store::Event event) {
    co_return co_await store->append_event(std::move(event));
}

}  // namespace

// The supervisor over the OpenAI client's HTTP client (one TLS context), the store's leases and
// the upstream's hang-up; a newly recorded call wakes it, so it is joined at once.
void App::Impl::build_supervision() {
    supervision_metrics = std::make_unique<metrics::SupervisionMetrics>(telemetry->registry);
    SupervisionDeps deps{
        cfg,
        *clock,
        loops.pointers(),
        openai->shared_http(),
        upstream_base,
        upstream_key,
        *store,
        [api = realtime.get()](std::string call_id, std::string request_id) {
            return hang_up(api, std::move(call_id), std::move(request_id));
        },
        [s = store.get()](store::Event event) { return append_event(s, std::move(event)); },
        supervision_metrics.get(),
        random_id("vg_", 16)};
    supervision = std::make_unique<Supervision>(std::move(deps));
    call_recorder->on_recorded([s = supervision.get()] { s->wake(); });
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
    impl_->background->start();
    impl_->supervision->start();
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
    impl_->drain();
    auto& d = *impl_;
    // Before the store closes and the loops stop: each call writes its usage and lets go of its
    // lease, so another instance takes it over at once.
    d.supervision->stop();
    if (d.redis != nullptr) {
        d.redis->shutdown();  // its connections would keep the loops from running out of work
    }
    d.background->stop();
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

// Stops accepting and waits for in-flight requests until the drain deadline, then answers what
// is left with 503 and closes it.
void App::Impl::drain() {
    spdlog::info("shutting down: draining {} connection(s)", server->active_connections());
    server->begin_drain();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.server.drain_timeout_ms);
    while (server->active_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (server->active_connections() > 0) {
        const auto open = server->active_connections();
        const auto answered = server->abort_in_flight();
        spdlog::warn(
            "drain deadline reached with {} connection(s) open; answered {} request(s) "
            "in flight with 503 shutting_down and closed them",
            open, answered);
    }
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

}  // namespace voicegate::app
