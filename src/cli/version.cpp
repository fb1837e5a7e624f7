#include <cstdio>

#include <CLI/CLI.hpp>
#include <boost/version.hpp>

#include "cli/commands.hpp"

namespace voicegate::cli {

Command add_version(CLI::App& cli) {
    auto* version = cli.add_subcommand("version", "Print the version");
    return {version, [] {
                std::printf("voicegate %s (C++20, Boost %d.%d)\n", VOICEGATE_VERSION,
                            BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000);
                return 0;
            }};
}

}  // namespace voicegate::cli
