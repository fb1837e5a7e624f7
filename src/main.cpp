// voicegate: wires the subcommands of src/cli/ into CLI11 and runs the one given (serve when none).
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
    using namespace voicegate;
    CLI::App app{
        "voicegate: a gateway that mints OpenAI Realtime ephemeral tokens for apps, with "
        "auth, limits, quotas and usage records.\nRun `voicegate serve` (the default) "
        "and open the test console it prints."};
    app.set_version_flag("--version", std::string("voicegate ") + VOICEGATE_VERSION);
    app.require_subcommand(0, 1);
    app.footer(cli::variables_help());

    // In the order --help lists them.
    auto serve_options = std::make_shared<cli::CommonOptions>();
    const auto serve = cli::add_serve(app, serve_options);
    const std::vector<cli::Command> others{
        cli::add_config_reference(app, serve_options),
        cli::add_emulate(app),
        cli::add_migrate(app),
        cli::add_seed(app),
        cli::add_usage(app),
        cli::add_token(app),
        cli::add_version(app),
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    for (const auto& command : others) {
        if (*command.app) {
            return command.run();
        }
    }
    return serve.run();
}
