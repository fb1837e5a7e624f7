#include "store/op_queue.hpp"

#include "metrics/instruments.hpp"

namespace voicegate::store {

StoreStats& StoreStats::operator+=(const StoreStats& other) {
    batches += other.batches;
    ops += other.ops;
    failed_ops += other.failed_ops;
    careful_batches += other.careful_batches;
    conflict_retries += other.conflict_retries;
    connection_losses += other.connection_losses;
    reconnects += other.reconnects;
    return *this;
}

bool is_storage_failure(const Failure& f) {
    return f.code == Error::store_unavailable || f.code == Error::internal;
}

namespace detail {

StoreStats OpCounters::snapshot() const {
    StoreStats s;
    s.batches = batches.load(std::memory_order_relaxed);
    s.ops = ops.load(std::memory_order_relaxed);
    s.failed_ops = failed_ops.load(std::memory_order_relaxed);
    s.careful_batches = careful_batches.load(std::memory_order_relaxed);
    s.conflict_retries = conflict_retries.load(std::memory_order_relaxed);
    s.connection_losses = connection_losses.load(std::memory_order_relaxed);
    s.reconnects = reconnects.load(std::memory_order_relaxed);
    return s;
}

void count_batch(OpCounters& counters, metrics::StoreMetrics* metrics, bool transactional,
                 std::size_t ops, std::uint64_t failed, double write_seconds) {
    OpCounters::bump(counters.ops, ops);
    OpCounters::bump(counters.failed_ops, failed);
    if (metrics == nullptr || !transactional) {
        return;  // only write batches are reported
    }
    if (write_seconds >= 0) {
        metrics->batch(ops, write_seconds);
    }
    if (failed > 0) {
        metrics->errors(failed);
    }
}

}  // namespace detail
}  // namespace voicegate::store
