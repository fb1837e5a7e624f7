#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace voicegate::metrics {

/// Label name/value pairs of one sample, in output order.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// A monotonically increasing count. Thread-safe and lock-free (one relaxed atomic add).
class Counter {
public:
    void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down. Thread-safe and lock-free.
class Gauge {
public:
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

/// A cumulative histogram over fixed upper bounds (plus the implicit +Inf). observe() is
/// lock-free: a search over the bounds and two relaxed atomic adds; no allocation.
/// Thread-safe.
class Histogram {
public:
    /// `bounds` must be finite and strictly increasing (checked: std::invalid_argument).
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);

    /// A consistent-enough copy for rendering: cumulative counts per bound then +Inf (so the
    /// last equals `count`), and the sum of observed values.
    struct Snapshot {
        std::vector<std::uint64_t> cumulative;
        std::uint64_t count = 0;
        double sum = 0;
    };
    Snapshot snapshot() const;
    const std::vector<double>& bounds() const { return bounds_; }

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket (not cumulative)
    std::atomic<double> sum_{0};
};

/// Request latency buckets in seconds, from 0.5 ms to 10 s.
const std::vector<double>& latency_buckets();

/// Renders the text exposition format (0.0.4). Pure helpers; thread-safe.
class Writer {
public:
    /// Appends `# HELP` and `# TYPE` lines (type: counter, gauge, histogram, untyped).
    void header(std::string_view name, std::string_view help, std::string_view type);
    /// Appends one sample line.
    void sample(std::string_view name, const Labels& labels, double value);
    /// Appends a histogram's `_bucket` (with `le`), `_sum` and `_count` lines.
    void histogram(std::string_view name, const Labels& labels, const Histogram& h);
    const std::string& text() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

/// Escapes a label value: backslash, double quote and newline (the format's three escapes).
std::string escape_label_value(std::string_view v);
/// Escapes HELP text: backslash and newline.
std::string escape_help(std::string_view v);
/// Formats a sample value: integers without a fraction, `+Inf`, `-Inf`, `NaN`, otherwise the
/// shortest round-tripping decimal.
std::string format_value(double v);

/// A labelled set of metrics of one name (Prometheus "metric family"). Children are created on
/// first use under a mutex and never destroyed, so hot paths look a child up once (at start-up)
/// and keep the reference. Thread-safe.
template <class M>
class Family {
public:
    using Factory = std::function<std::unique_ptr<M>()>;
    Family(std::vector<std::string> label_names, Factory factory)
        : label_names_(std::move(label_names)), factory_(std::move(factory)) {}

    /// The child for `values` (one per label name, in order); created if new. Takes a lock:
    /// resolve children at start-up, not per request.
    M& with(const std::vector<std::string>& values) {
        std::lock_guard lock(mutex_);
        auto& slot = children_[values];
        if (!slot) {
            slot = factory_();
        }
        return *slot;
    }

    /// Calls `fn(labels, child)` for every child in label order.
    template <class Fn>
    void each(Fn&& fn) const {
        std::lock_guard lock(mutex_);
        for (const auto& [values, child] : children_) {
            Labels labels;
            for (std::size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
                labels.emplace_back(label_names_[i], values[i]);
            }
            fn(labels, *child);
        }
    }

private:
    std::vector<std::string> label_names_;
    Factory factory_;
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

/// Holds every metric of the process and renders them in registration order.
/// Registration happens at start-up; render() may run concurrently with updates.
/// Thread safety: all methods are thread-safe.
class Registry {
public:
    /// Registers a counter family (`name` should end in `_total`).
    Family<Counter>& counter(std::string name, std::string help,
                             std::vector<std::string> label_names = {});
    /// Registers a gauge family.
    Family<Gauge>& gauge(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
    /// Registers a histogram family with `bounds` for every child.
    Family<Histogram>& histogram(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds);
    /// Registers a custom collector that writes whole families (HELP/TYPE and samples) at
    /// scrape time. It must be quick and must not block (it runs on an event loop).
    void collector(std::function<void(Writer&)> collect);
    /// Registers a metric whose samples are computed at scrape time by `fn` (same rules).
    void callback(std::string name, std::string help, std::string type,
                  std::function<void(std::vector<std::pair<Labels, double>>&)> fn);

    /// The whole exposition text.
    std::string render() const;

private:
    mutable std::mutex mutex_;
    std::vector<std::function<void(Writer&)>> collectors_;
    std::vector<std::unique_ptr<Family<Counter>>> counters_;
    std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
    std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
};

}  // namespace voicegate::metrics
