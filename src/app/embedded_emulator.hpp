#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/clock.hpp"
#include "config/config.hpp"
#include "emulator/emulator.hpp"
#include "http/server.hpp"

namespace voicegate::app {

/// The emulator `serve` runs in-process when OPENAI_API_KEY is not set: on a private loopback
/// port, with a random API key, on the service's own loops.
struct EmbeddedEmulator {
    std::shared_ptr<emulator::Emulator> emulator;
    std::unique_ptr<http::Server> server;  // not started yet
    std::string api_key;                   // what the upstream client must send
    std::string base_url;                  // "http://127.0.0.1:PORT/v1"
};

/// Builds (does not start) the in-process emulator with the `[emulator]` options of `config`.
/// Throws std::runtime_error("emulator options: ...") on the first bad option.
EmbeddedEmulator make_embedded_emulator(const config::Config& config, const Clock& clock,
                                        const std::vector<boost::asio::io_context*>& loops);

}  // namespace voicegate::app
