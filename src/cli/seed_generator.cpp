#include "cli/seed_generator.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "cli/run_blocking.hpp"
#include "core/ids.hpp"
#include "store/event_type.hpp"

namespace voicegate::cli {
namespace asio = boost::asio;

namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kHourMs = 3'600'000;

struct Weighted {
    std::string_view value;
    double weight;
};

// The model mix of a voice app in late 2026: the default and the mini model lead.
constexpr std::array kModels{
    Weighted{"gpt-realtime", 0.40},          Weighted{"gpt-realtime-mini", 0.35},
    Weighted{"gpt-realtime-1.5", 0.10},      Weighted{"gpt-realtime-2", 0.10},
    Weighted{"gpt-realtime-2.1-mini", 0.05},
};
constexpr std::array kVoices{
    Weighted{"marin", 0.35}, Weighted{"cedar", 0.25},   Weighted{"alloy", 0.15},
    Weighted{"verse", 0.10}, Weighted{"shimmer", 0.10}, Weighted{"coral", 0.05},
};
constexpr std::array kEndedBy{
    Weighted{"user", 0.80},
    Weighted{"timeout", 0.12},
    Weighted{"error", 0.08},
};
constexpr std::array kDenials{
    Weighted{"rate_limited", 0.7},
    Weighted{"quota_exhausted", 0.3},
};
constexpr std::array kAgents{
    Weighted{"DiaryApp/3.2 (iPhone; iOS 18.1)", 0.45},
    Weighted{"DiaryApp/3.2 (Android 15; Pixel 8)", 0.35},
    Weighted{"Mozilla/5.0 (Macintosh) Chrome/131.0", 0.20},
};

template <std::size_t N>
std::string_view pick(const std::array<Weighted, N>& table, std::mt19937_64& rng) {
    double x = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    for (const auto& w : table) {
        if (x < w.weight) {
            return w.value;
        }
        x -= w.weight;
    }
    return table.back().value;
}

std::vector<double> cumulative(std::vector<double> weights) {
    double sum = 0;
    for (auto& w : weights) {
        sum += w;
        w = sum;
    }
    for (auto& w : weights) {
        w /= sum;
    }
    return weights;
}

std::size_t sample(const std::vector<double>& cdf, std::mt19937_64& rng) {
    const double x = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const auto it = std::lower_bound(cdf.begin(), cdf.end(), x);
    return std::min<std::size_t>(static_cast<std::size_t>(it - cdf.begin()), cdf.size() - 1);
}

std::string with_commas(std::int64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out.push_back(',');
        }
        out.push_back(digits[i]);
    }
    return out;
}

}  // namespace

SeedGenerator::SeedGenerator(const SeedPlan& plan) : plan_(plan), rng_(plan.seed) {
    std::vector<double> users(static_cast<std::size_t>(std::max(plan.users, 1)));
    for (std::size_t i = 0; i < users.size(); ++i) {
        users[i] = 1.0 / std::pow(static_cast<double>(i + 1), 1.1);
    }
    user_cdf_ = cumulative(std::move(users));
    // UTC hour of day: quiet around 04:00, busiest around 20:00.
    std::vector<double> hours(24);
    for (int h = 0; h < 24; ++h) {
        hours[static_cast<std::size_t>(h)] = 1.15 + std::cos((h - 20) * 3.14159265358979 / 12.0);
    }
    hour_cdf_ = cumulative(std::move(hours));
    const std::int64_t today = plan.now_ms / kDayMs * kDayMs;
    first_day_ms_ = today - static_cast<std::int64_t>(std::max(plan.days, 1) - 1) * kDayMs;
}

std::int64_t SeedGenerator::issue_time() {
    if (issue_times_.empty()) {
        // A day of the range, an hour by the daily rhythm, a uniform minute; never later than
        // now: a time in today's future is drawn again (clamping it would pile the rest of
        // today's sessions onto one instant), clamped only if the range has no past to draw.
        // Drawn up front and sorted (8 bytes a session).
        issue_times_.reserve(static_cast<std::size_t>(std::max<std::int64_t>(plan_.sessions, 1)));
        const std::int64_t latest = plan_.now_ms - 1000;
        for (std::int64_t i = 0; i < std::max<std::int64_t>(plan_.sessions, 1); ++i) {
            std::int64_t t = latest;
            for (int attempt = 0; attempt < 64; ++attempt) {
                const auto day =
                    std::uniform_int_distribution<int>(0, std::max(plan_.days, 1) - 1)(rng_);
                const auto hour = static_cast<std::int64_t>(sample(hour_cdf_, rng_));
                const auto within =
                    std::uniform_int_distribution<std::int64_t>(0, kHourMs - 1)(rng_);
                t = first_day_ms_ + day * kDayMs + hour * kHourMs + within;
                if (t <= latest) {
                    break;
                }
            }
            issue_times_.push_back(std::min(t, latest));
        }
        std::sort(issue_times_.begin(), issue_times_.end());
    }
    const auto t = issue_times_[std::min(next_time_, issue_times_.size() - 1)];
    ++next_time_;
    return t;
}

SeededSession SeedGenerator::next() {
    SeededSession out;
    auto& rec = out.issued;
    const auto rank = sample(user_cdf_, rng_) + 1;
    char user[32];
    std::snprintf(user, sizeof user, "seed-user-%05zu", rank);
    rec.user_id = user;
    rec.session_id = random_id("sess_", 24);
    rec.model = std::string(pick(kModels, rng_));
    rec.voice = std::string(pick(kVoices, rng_));
    rec.user_agent = std::string(pick(kAgents, rng_));
    rec.client_ip = "203.0.113." + std::to_string(1 + rank % 250);  // TEST-NET-3

    rec.issued_at_ms = issue_time();
    rec.token_expires_at = rec.issued_at_ms / 1000 + 600;

    // Log-normal talk time, median 3 min, 5 s to 30 min.
    const double talk_s =
        std::clamp(std::lognormal_distribution<double>(std::log(180.0), 0.9)(rng_), 5.0, 1800.0);
    const double lag_s = std::uniform_real_distribution<double>(0.3, 4.0)(rng_);
    const std::int64_t ended_at =
        rec.issued_at_ms + static_cast<std::int64_t>((talk_s + lag_s) * 1000);
    const bool ends = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) >= plan_.never_ended &&
                      ended_at <= plan_.now_ms;
    if (ends) {
        store::EndRequest end;
        end.session_id = rec.session_id;
        end.caller_user_id = rec.user_id;
        end.ended_at_ms = ended_at;
        end.ended_by = std::string(pick(kEndedBy, rng_));
        // Most clients report their talk time; a few over-report (billing uses the smaller).
        const bool over = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < 0.05;
        end.reported_duration_s = std::round(talk_s * (over ? 1.25 : 1.0) * 10) / 10;
        end.message_count =
            std::max<std::int64_t>(end.ended_by == "error" ? 0 : 1,
                                   std::poisson_distribution<std::int64_t>(talk_s / 20.0)(rng_));
        end.client_ip = rec.client_ip;
        out.end = std::move(end);
    }
    if (std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < plan_.denied_per_session) {
        store::Event denial;
        denial.at_ms = std::max<std::int64_t>(first_day_ms_, rec.issued_at_ms - 2'000);
        denial.type = store::event_type_name(store::EventType::token_denied);
        denial.user_id = rec.user_id;
        denial.client_ip = rec.client_ip;
        denial.reason = std::string(pick(kDenials, rng_));
        out.denials.push_back(std::move(denial));
    }
    return out;
}

Result<void> run_seed(store::SessionStore& store, const SeedPlan& plan,
                      const std::function<void(const SeedProgress&)>& progress) {
    asio::io_context io(1);
    SeedGenerator gen(plan);
    std::int64_t issued = 0;  // sessions handed to a worker
    std::int64_t done = 0;    // sessions fully written
    std::optional<Failure> failure;
    const auto started = std::chrono::steady_clock::now();
    auto report = [&](bool finished) {
        SeedProgress p;
        p.done = done;
        p.total = plan.sessions;
        p.elapsed_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        p.finished = finished;
        progress(p);
    };

    // Enough writes in flight for large group commits; each worker writes one session at a time
    // (its end after its issue, as in production).
    const int workers = std::max(plan.in_flight, 1);
    int running = workers;
    auto worker = [&]() -> asio::awaitable<void> {
        while (!failure && issued < plan.sessions) {
            ++issued;
            SeededSession s = gen.next();
            for (const auto& d : s.denials) {
                store::Denial denial;
                denial.at_ms = d.at_ms;
                denial.user_id = d.user_id;
                denial.client_ip = d.client_ip;
                denial.reason = d.reason;
                store.record_denial(denial);
            }
            // Flushed as the service does (it would every second): the buffer stays small and
            // the audit sample complete.
            if (issued % 1024 == 0) {
                if (auto flushed = co_await store.flush_denials(); !flushed) {
                    failure = flushed.error();
                    break;
                }
            }
            auto created = co_await store.create_session(std::move(s.issued));
            if (!created) {
                failure = created.error();
                break;
            }
            if (s.end) {
                auto ended = co_await store.end_session(std::move(*s.end));
                if (!ended) {
                    failure = ended.error();
                    break;
                }
            }
            ++done;
        }
        --running;
    };
    for (int i = 0; i < workers; ++i) {
        asio::co_spawn(io, worker(), asio::detached);
    }
    // Named: a coroutine lambda's captures live in the closure, which must outlive the frame.
    auto ticker = [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        while (running > 0) {
            timer.expires_after(std::chrono::milliseconds(250));
            co_await timer.async_wait(asio::use_awaitable);
            if (running > 0) {
                report(false);
            }
        }
    };
    asio::co_spawn(io, ticker(), asio::detached);
    io.run();
    if (!failure) {
        auto flushed = run_blocking<void>([&] { return store.flush_denials(); });
        if (!flushed) {
            failure = flushed.error();
        }
    }
    report(true);
    if (failure) {
        return *failure;
    }
    return {};
}

Result<bool> holds_sessions(store::SessionStore& store) {
    store::SessionQuery q;
    q.limit = 1;
    auto page = run_blocking<store::SessionPage>([&] { return store.list_sessions(q); });
    if (!page) {
        return page.error();
    }
    return !page->sessions.empty();
}

std::string render_progress(const SeedProgress& p) {
    constexpr int kWidth = 30;
    const double frac =
        p.total > 0 ? static_cast<double>(p.done) / static_cast<double>(p.total) : 1.0;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                      std::string(static_cast<std::size_t>(kWidth - filled), '.') + "]";
    const double rate = p.elapsed_s > 0 ? static_cast<double>(p.done) / p.elapsed_s : 0;
    char tail[96];
    if (p.finished) {
        std::snprintf(tail, sizeof tail, "  %.1fs", p.elapsed_s);
    } else {
        const double eta = rate > 0 ? static_cast<double>(p.total - p.done) / rate : 0;
        std::snprintf(tail, sizeof tail, "  ETA %.0fs", eta);
    }
    char pct[16];
    std::snprintf(pct, sizeof pct, " %3d%%  ", static_cast<int>(frac * 100));
    return bar + pct + with_commas(p.done) + "/" + with_commas(p.total) + " sessions  " +
           with_commas(static_cast<std::int64_t>(rate)) + "/s" + tail;
}

}  // namespace voicegate::cli
