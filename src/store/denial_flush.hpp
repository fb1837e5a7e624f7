#pragma once

#include <memory>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/audit.hpp"
#include "store/rollup.hpp"
#include "store/session_store.hpp"

// SessionStore::flush_denials, written once for both engines over a DenialLog (record_denial_at,
// its other half, is in audit.hpp).
namespace voicegate::store {

/// Writes `log`'s buffered denials when it has any: `run(write)` must queue `write` (a
/// `Result<void>(SqlExec&)`) on a store thread and return its awaitable. `write` takes the
/// batch when it runs, so a flush queued after another completes after it (a read that
/// flushed first sees every denial recorded before it), and writes it with write_denials
/// (`own_transaction` as there). A batch that fails goes back to the log for the next flush.
/// Callers pass `run` as a named object (see the GCC 12 note at store::submit).
template <class Run>
boost::asio::awaitable<Result<void>> flush_denial_log(DenialLog& log, bool own_transaction,
                                                      Run run) {
    if (!log.dirty()) {
        co_return Result<void>{};  // everything recorded so far is committed: no transaction
    }
    auto batch = std::make_shared<DenialBatch>();
    auto write = [log = &log, batch, own_transaction](SqlExec& db) {
        *batch = log->take();
        return write_denials(db, *batch, own_transaction);
    };
    auto written = co_await run(std::move(write));
    log.done(std::move(*batch), written.has_value());
    co_return written;
}

}  // namespace voicegate::store
