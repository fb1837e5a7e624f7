#pragma once

#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/error.hpp"

namespace voicegate::cli {

/// Runs `start()` (a call returning awaitable<Result<T>>, e.g. a store read) on a private event
/// loop until it completes, and returns its result. Blocking: for CLI commands, never on a
/// service event loop.
template <class T, class Start>
Result<T> run_blocking(Start start) {
    boost::asio::io_context io(1);
    std::optional<Result<T>> out;
    auto task = [&]() -> boost::asio::awaitable<void> { out = co_await start(); };
    boost::asio::co_spawn(io, task(), boost::asio::detached);
    io.run();
    if (!out) {
        return fail(Error::internal, {}, "the operation did not complete");
    }
    return std::move(*out);
}

}  // namespace voicegate::cli
