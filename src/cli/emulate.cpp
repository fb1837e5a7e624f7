#include <map>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "app/loops.hpp"
#include "cli/commands.hpp"
#include "core/log.hpp"
#include "emulator/emulator.hpp"
#include "emulator/options.hpp"
#include "http/server.hpp"
#include "net/listen.hpp"

namespace voicegate::cli {
namespace asio = boost::asio;

namespace {

struct EmulateOptions {
    std::string listen = "127.0.0.1:9090";
    int threads = 0;
    std::map<std::string, std::string> options;
    std::string log_level = "info";
};

}  // namespace

// The emulator's own composition root: its loops, its server, its signal handling.
int run_emulator(const std::string& listen, int threads,
                 const std::map<std::string, std::string>& options) {
    std::string host;
    std::uint16_t port = 0;
    if (!net::parse_listen(listen, host, port)) {
        spdlog::error("--listen must be host:port, got \"{}\"", listen);
        return 2;
    }
    emulator::EmulatorOptions eo;
    if (auto problems = emulator::apply_emulator_options(options, eo); !problems.empty()) {
        for (const auto& p : problems) {
            spdlog::error("emulator: {}", p);
        }
        return 2;
    }
    app::Loops loops(app::loop_count(threads));
    auto emu = std::make_shared<emulator::Emulator>(eo);
    http::ServerOptions so;
    so.host = host;
    so.port = port;
    so.name = "emulator";
    auto server = std::make_unique<http::Server>(loops.pointers(), so, emu->handler());
    emu->set_connection_counter([s = server.get()] { return s->connections_accepted(); });
    asio::io_context signals_ctx(1);
    asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
    signals.async_wait([](const boost::system::error_code&, int) {});
    loops.start();
    server->start();
    spdlog::info("emulator listening on http://{}:{} (OpenAI base URL: http://{}:{}/v1)", host,
                 server->port(), host, server->port());
    signals_ctx.run();
    spdlog::info("emulator stopping");
    server->begin_drain();
    loops.stop(std::chrono::seconds(2));
    return 0;
}

Command add_emulate(CLI::App& cli) {
    auto o = std::make_shared<EmulateOptions>();
    auto* emulate =
        cli.add_subcommand("emulate", "Run only the OpenAI Realtime emulator (SPEC §8)");
    emulate->add_option("--listen", o->listen, "host:port (default 127.0.0.1:9090)");
    emulate->add_option("--threads", o->threads, "event loops (default: one per core)");
    for (const auto& spec : emulator::emulator_option_specs()) {
        emulate
            ->add_option_function<std::string>(
                "--" + std::string(spec.name),
                [o, n = std::string(spec.name)](const std::string& v) { o->options[n] = v; },
                std::string(spec.help))
            ->type_name(std::string(spec.value_name));
    }
    emulate->add_option("--log-level", o->log_level, "trace debug info warn error off");
    return {emulate, [o] {
                log::init({o->log_level, false, true});
                const int rc = run_emulator(o->listen, o->threads, o->options);
                log::shutdown();
                return rc;
            }};
}

}  // namespace voicegate::cli
