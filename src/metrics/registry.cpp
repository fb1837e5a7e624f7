#include "metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace voicegate::metrics {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
            throw std::invalid_argument("histogram bounds must be finite and increasing");
        }
    }
    buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        buckets_[i].store(0, std::memory_order_relaxed);
    }
}

void Histogram::observe(double value) {
    // `le` is inclusive: the first bound >= value.
    const auto i = static_cast<std::size_t>(
        std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.cumulative.reserve(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

const std::vector<double>& latency_buckets() {
    static const std::vector<double> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    return kBuckets;
}

namespace {

// The text format's escapes: backslash and newline everywhere, and the double quote inside
// label values.
std::string escape(std::string_view v, bool quote) {
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && quote) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
    return escape(v, true);
}

std::string escape_help(std::string_view v) {
    return escape(v, false);
}

std::string format_value(double v) {
    if (std::isnan(v)) {
        return "NaN";
    }
    if (std::isinf(v)) {
        return v > 0 ? "+Inf" : "-Inf";
    }
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        auto [p, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
        return std::string(buf, p);
    }
    // Plain decimals ("0.0005", as bucket bounds are usually written) where they stay short.
    const double mag = std::fabs(v);
    const auto format =
        mag >= 1e-6 && mag < 1e15 ? std::chars_format::fixed : std::chars_format::general;
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, format);
    return std::string(buf, p);
}

void Writer::header(std::string_view name, std::string_view help, std::string_view type) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += escape_help(help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void Writer::sample(std::string_view name, const Labels& labels, double value) {
    out_ += name;
    if (!labels.empty()) {
        out_ += '{';
        for (std::size_t i = 0; i < labels.size(); ++i) {
            if (i > 0) {
                out_ += ',';
            }
            out_ += labels[i].first;
            out_ += "=\"";
            out_ += escape_label_value(labels[i].second);
            out_ += '"';
        }
        out_ += '}';
    }
    out_ += ' ';
    out_ += format_value(value);
    out_ += '\n';
}

void Writer::histogram(std::string_view name, const Labels& labels, const Histogram& h) {
    const auto snap = h.snapshot();
    const std::string bucket = std::string(name) + "_bucket";
    Labels with_le = labels;
    with_le.emplace_back("le", "");
    const auto& bounds = h.bounds();
    for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
        with_le.back().second = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
        sample(bucket, with_le, static_cast<double>(snap.cumulative[i]));
    }
    sample(std::string(name) + "_sum", labels, snap.sum);
    sample(std::string(name) + "_count", labels, static_cast<double>(snap.count));
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
    std::lock_guard lock(mutex_);
    counters_.push_back(std::make_unique<Family<Counter>>(
        std::move(label_names), [] { return std::make_unique<Counter>(); }));
    auto* family = counters_.back().get();
    collectors_.emplace_back([family, name = std::move(name), help = std::move(help)](Writer& w) {
        w.header(name, help, "counter");
        family->each([&](const Labels& labels, const Counter& c) {
            w.sample(name, labels, static_cast<double>(c.value()));
        });
    });
    return *family;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
    std::lock_guard lock(mutex_);
    gauges_.push_back(std::make_unique<Family<Gauge>>(std::move(label_names),
                                                      [] { return std::make_unique<Gauge>(); }));
    auto* family = gauges_.back().get();
    collectors_.emplace_back([family, name = std::move(name), help = std::move(help)](Writer& w) {
        w.header(name, help, "gauge");
        family->each(
            [&](const Labels& labels, const Gauge& g) { w.sample(name, labels, g.value()); });
    });
    return *family;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
    (void)Histogram(bounds);  // validates the bounds now, at start-up
    std::lock_guard lock(mutex_);
    histograms_.push_back(std::make_unique<Family<Histogram>>(
        std::move(label_names),
        [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); }));
    auto* family = histograms_.back().get();
    collectors_.emplace_back([family, name = std::move(name), help = std::move(help)](Writer& w) {
        w.header(name, help, "histogram");
        family->each(
            [&](const Labels& labels, const Histogram& h) { w.histogram(name, labels, h); });
    });
    return *family;
}

void Registry::collector(std::function<void(Writer&)> collect) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(collect));
}

void Registry::callback(std::string name, std::string help, std::string type,
                        std::function<void(std::vector<std::pair<Labels, double>>&)> fn) {
    collector([name = std::move(name), help = std::move(help), type = std::move(type),
               fn = std::move(fn)](Writer& w) {
        std::vector<std::pair<Labels, double>> samples;
        fn(samples);
        w.header(name, help, type);
        for (const auto& [labels, value] : samples) {
            w.sample(name, labels, value);
        }
    });
}

std::string Registry::render() const {
    std::vector<std::function<void(Writer&)>> collectors;
    {
        std::lock_guard lock(mutex_);
        collectors = collectors_;
    }
    Writer w;
    for (const auto& c : collectors) {
        c(w);
    }
    return w.take();
}

}  // namespace voicegate::metrics
