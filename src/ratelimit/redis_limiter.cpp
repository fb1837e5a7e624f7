#include "ratelimit/redis_limiter.hpp"

#include <array>
#include <atomic>
#include <mutex>
#include <vector>

#include <boost/asio/this_coro.hpp>
#include <openssl/evp.h>

#include "ratelimit/redis_connection.hpp"

#include <spdlog/spdlog.h>

namespace voicegate::ratelimit {
namespace asio = boost::asio;

namespace {

// GCRA exactly as gcra.cpp `decide`, on Redis's clock, over KEYS in order. All values are whole
// microseconds below 2^53, so Lua's doubles hold them exactly.
constexpr std::string_view kScript =
    R"lua(-- voicegate GCRA limiter (src/ratelimit/gcra.cpp decide())
-- KEYS[i]: a limiter key. ARGV[2i-1]: emission interval T, ARGV[2i]: tolerance tau = T * burst (us).
-- Returns {allowed, remaining, retry_after_us, reset_after_us} per key, flattened, and stops after
-- the first refused key. An allowed key stores its new TAT (us), expiring when its burst is full.
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local out = {}
for i = 1, #KEYS do
  local t = tonumber(ARGV[2 * i - 1])
  local tau = tonumber(ARGV[2 * i])
  if t == nil or tau == nil or t <= 0 then
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = 1000000; out[#out + 1] = 1000000
    return out
  end
  local tat = tonumber(redis.call('GET', KEYS[i])) or 0
  if tat < now then tat = now end
  local new_tat = tat + t
  local allow_at = new_tat - tau
  if now < allow_at then
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = allow_at - now; out[#out + 1] = tat - now
    return out
  end
  local remaining = idiv(tau - (new_tat - now), t)
  local retry = 0
  if remaining <= 0 then retry = new_tat + t - tau - now end
  local ttl_ms = math.max(1, math.ceil((new_tat - now) / 1000))
  redis.call('SET', KEYS[i], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl_ms))
  out[#out + 1] = 1; out[#out + 1] = remaining; out[#out + 1] = retry; out[#out + 1] = new_tat - now
end
return out
)lua";

std::string sha1_hex(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha1(), nullptr);
    static constexpr std::string_view kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(kHex[md[i] >> 4U]);
        out.push_back(kHex[md[i] & 0x0FU]);
    }
    return out;
}

// Reachability of Redis over every loop's connection, logged once per change of the whole:
// "unreachable" when a first connection fails, "reconnected" once every failed one is back.
// Judging by any single connection would flap while loops recover one by one (one loop back,
// another's attempt still failing), logging the same outage twice.
class HealthLog {
public:
    HealthLog(std::string where, bool fail_open, std::size_t connections)
        : where_(std::move(where)), fail_open_(fail_open), conns_(connections) {}

    void note(std::size_t conn, bool up, const std::string& why) {
        const int want = up ? kUp : kDown;
        // The common case (a request on a healthy connection) is one relaxed load.
        if (conn >= conns_.size() || conns_[conn].load(std::memory_order_relaxed) == want) {
            return;
        }
        std::lock_guard lock(mutex_);
        if (conns_[conn].exchange(want) == want) {
            return;
        }
        int down = 0;
        int ups = 0;
        for (const auto& c : conns_) {
            const int v = c.load();
            down += v == kDown ? 1 : 0;
            ups += v == kUp ? 1 : 0;
        }
        const int whole = down > 0 ? kDown : (ups > 0 ? kUp : kUnknown);
        const int before = whole_.exchange(whole);
        if (whole == before || whole == kUnknown) {
            return;
        }
        if (whole == kUp && before == kUnknown) {
            spdlog::info("redis: connected to {}; rate limits are shared", where_);
        } else if (whole == kUp) {
            spdlog::info("redis: reconnected to {}", where_);
        } else {
            spdlog::warn("redis: unreachable ({}: {}); rate limiting fails {} until it is back",
                         where_, why,
                         fail_open_ ? "open (token requests are allowed unlimited)"
                                    : "closed (token requests get 503)");
        }
    }

    RedisLimiter::Health health() const {
        switch (whole_.load()) {
            case kUp:
                return RedisLimiter::Health::up;
            case kDown:
                return RedisLimiter::Health::down;
            default:
                return RedisLimiter::Health::unknown;
        }
    }

private:
    static constexpr int kUnknown = 0;
    static constexpr int kUp = 1;
    static constexpr int kDown = 2;
    std::string where_;  // the redacted URL
    bool fail_open_;
    std::vector<std::atomic<int>> conns_;  // each loop's connection: kUnknown, kUp or kDown
    std::mutex mutex_;                     // changes of state (rare)
    std::atomic<int> whole_{kUnknown};
};

// The script's answer as Decisions, or why it is not a valid answer to `checks`.
Result<std::vector<Decision>> parse_answer(const RedisReply& reply,
                                           const std::vector<LimitCheck>& checks) {
    if (reply.is_error()) {
        return fail(Error::store_unavailable, {}, "redis: script failed: " + reply.str);
    }
    const auto& e = reply.elements;
    const std::size_t n = e.size() / 4;
    if (reply.type != RedisReply::Type::array || e.size() % 4 != 0 || n == 0 || n > checks.size()) {
        return fail(Error::store_unavailable, {}, "redis: unexpected script answer");
    }
    std::vector<Decision> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            if (e[4 * i + j].type != RedisReply::Type::integer) {
                return fail(Error::store_unavailable, {}, "redis: unexpected script answer");
            }
        }
        GcraDecision g;
        g.allowed = e[4 * i].integer != 0;
        g.remaining = e[4 * i + 1].integer;
        g.retry_after_us = e[4 * i + 2].integer;
        g.reset_after_us = e[4 * i + 3].integer;
        out.push_back(make_decision(g, checks[i].rate));
        if (!g.allowed && i + 1 != n) {
            return fail(Error::store_unavailable, {}, "redis: unexpected script answer");
        }
    }
    if (n < checks.size() && out.back().allowed) {
        return fail(Error::store_unavailable, {}, "redis: unexpected script answer");
    }
    return out;
}

}  // namespace

struct RedisLimiter::Impl {
    RedisLimiterOptions opts;
    std::shared_ptr<HealthLog> health;
    std::vector<std::pair<asio::io_context*, std::unique_ptr<RedisConnection>>> conns;
    std::atomic<bool> closed{false};  // shut down: failures are not outages

    /// The connection of the loop `ctx` and its index, or nullptr.
    RedisConnection* find(const asio::execution_context& ctx, std::size_t& index) const {
        for (std::size_t i = 0; i < conns.size(); ++i) {
            if (static_cast<const asio::execution_context*>(conns[i].first) == &ctx) {
                index = i;
                return conns[i].second.get();
            }
        }
        return nullptr;
    }
};

std::string_view RedisLimiter::script() {
    return kScript;
}

const std::string& RedisLimiter::script_sha1() {
    static const std::string kSha = sha1_hex(kScript);
    return kSha;
}

RedisLimiter::RedisLimiter(RedisLimiterOptions options, const std::vector<asio::io_context*>& loops)
    : impl_(std::make_shared<Impl>()) {
    impl_->opts = std::move(options);
    impl_->health = std::make_shared<HealthLog>(impl_->opts.url.redacted(), impl_->opts.fail_open,
                                                loops.size());
    for (std::size_t i = 0; i < loops.size(); ++i) {
        auto* loop = loops[i];
        RedisConnectionOptions co;
        co.url = impl_->opts.url;
        co.setup = {{"SCRIPT", "LOAD", std::string(kScript)}};
        co.connect_timeout = impl_->opts.connect_timeout;
        co.backoff_min = impl_->opts.backoff_min;
        co.backoff_max = impl_->opts.backoff_max;
        co.on_state = [health = impl_->health, i](bool up, const std::string& why) {
            health->note(i, up, why);
        };
        impl_->conns.emplace_back(loop, std::make_unique<RedisConnection>(*loop, std::move(co)));
    }
}

RedisLimiter::~RedisLimiter() {
    shutdown();
}

void RedisLimiter::start() {
    for (auto& [loop, conn] : impl_->conns) {
        conn->start();
    }
}

void RedisLimiter::shutdown() {
    impl_->closed = true;
    for (auto& [loop, conn] : impl_->conns) {
        conn->close();
    }
}

RedisLimiter::Health RedisLimiter::health() const {
    return impl_->health->health();
}

asio::awaitable<Result<std::vector<Decision>>> RedisLimiter::check(std::vector<LimitCheck> checks) {
    auto impl = impl_;
    const auto deadline = std::chrono::steady_clock::now() + impl->opts.timeout;
    if (checks.empty()) {
        co_return std::vector<Decision>{};
    }
    const auto ex = co_await asio::this_coro::executor;
    std::size_t conn_index = 0;
    RedisConnection* conn = impl->find(asio::query(ex, asio::execution::context), conn_index);
    if (conn == nullptr) {
        co_return fail(Error::internal, {}, "redis limiter used off its event loops");
    }
    std::vector<std::string> argv;
    argv.reserve(3 + 3 * checks.size());
    argv.emplace_back("EVALSHA");
    argv.push_back(script_sha1());
    argv.push_back(std::to_string(checks.size()));
    for (const auto& c : checks) {
        argv.push_back(impl->opts.key_prefix + c.key);
    }
    for (const auto& c : checks) {
        const bool valid = c.rate.count > 0 && c.rate.period_ms > 0;
        const std::int64_t t = valid ? c.rate.emission_interval_us() : 0;
        argv.push_back(std::to_string(t));
        argv.push_back(std::to_string(t * c.rate.effective_burst()));
    }
    auto first = argv;
    auto reply = co_await conn->command(std::move(first), deadline);
    if (reply && reply->is_error() && reply->str.rfind("NOSCRIPT", 0) == 0) {
        // The script cache was flushed since we connected: send the body (EVAL caches it).
        argv[0] = "EVAL";
        argv[1] = std::string(kScript);
        reply = co_await conn->command(std::move(argv), deadline);
    }
    Result<std::vector<Decision>> out =
        reply ? parse_answer(*reply, checks) : Result<std::vector<Decision>>(reply.error());
    if (out) {
        impl->health->note(conn_index, true, {});
        co_return out;
    }
    if (!impl->closed) {
        const auto& why = out.error().details;
        impl->health->note(conn_index, false, why.rfind("redis: ", 0) == 0 ? why.substr(7) : why);
    }
    if (impl->opts.fail_open) {
        // Allowed and not enforced: limit 0 renders no RateLimit headers.
        std::vector<Decision> open(checks.size());
        co_return open;
    }
    co_return out;
}

}  // namespace voicegate::ratelimit
