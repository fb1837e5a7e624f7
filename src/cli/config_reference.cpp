#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace voicegate::cli {

Command add_config_reference(CLI::App& cli, std::shared_ptr<const CommonOptions> serve_options) {
    auto* reference = cli.add_subcommand(
        "config-reference",
        "Print the configuration reference (docs/configuration.md) as Markdown: every setting "
        "with its variable, TOML key, serve flag, default and meaning");
    return {reference, [serve = std::move(serve_options)] {
                std::fputs(config::configuration_reference_markdown(serve->flag_names).c_str(),
                           stdout);
                return 0;
            }};
}

}  // namespace voicegate::cli
