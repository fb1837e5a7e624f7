#pragma once

#include <map>
#include <memory>
#include <string>

#include "cli/common.hpp"

namespace voicegate::cli {

// Each function adds one subcommand to `cli`, with its options and help, and returns it with
// what runs it. main() adds them in the order `voicegate --help` lists them.

/// `serve` (the default): runs the service. `options` receives what its flags set (the
/// configuration reference lists those flags).
Command add_serve(CLI::App& cli, const std::shared_ptr<CommonOptions>& options);
/// `config-reference`: prints docs/configuration.md, with the flags of `serve_options`.
Command add_config_reference(CLI::App& cli, std::shared_ptr<const CommonOptions> serve_options);
/// `emulate`: runs only the OpenAI Realtime emulator until SIGINT/SIGTERM.
Command add_emulate(CLI::App& cli);
/// `migrate`: applies the schema migrations (and, asked, rebuilds the rollups).
Command add_migrate(CLI::App& cli);
/// `seed`: fills the database with synthetic sessions.
Command add_seed(CLI::App& cli);
/// `usage`: prints usage from the database's rollups.
Command add_usage(CLI::App& cli);
/// `token`: mints a token from a running voicegate.
Command add_token(CLI::App& cli);
/// `version`: prints the version.
Command add_version(CLI::App& cli);

/// Runs `voicegate emulate`: the upstream emulator alone on `listen` ("host:port") with
/// `threads` loops (0: one per core) and the emulator `options`, until SIGINT/SIGTERM. Returns
/// the exit code: 2 for a bad --listen or option, else 0.
int run_emulator(const std::string& listen, int threads,
                 const std::map<std::string, std::string>& options);

}  // namespace voicegate::cli
