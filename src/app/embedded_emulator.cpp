#include "app/embedded_emulator.hpp"

#include "core/ids.hpp"

namespace voicegate::app {

EmbeddedEmulator make_embedded_emulator(const config::Config& config, const Clock& clock,
                                        const std::vector<boost::asio::io_context*>& loops) {
    emulator::EmulatorOptions eo = config.emulator.options;  // validated when the config loaded
    eo.api_key = random_id("sk-emulator-", 32);
    EmbeddedEmulator out;
    out.emulator = std::make_shared<emulator::Emulator>(eo, clock);
    http::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.name = "emulator";
    so.access_log = false;
    out.server = std::make_unique<http::Server>(loops, so, out.emulator->handler());
    out.emulator->set_connection_counter(
        [s = out.server.get()] { return s->connections_accepted(); });
    out.api_key = eo.api_key;
    out.base_url = "http://127.0.0.1:" + std::to_string(out.server->port()) + "/v1";
    return out;
}

}  // namespace voicegate::app
