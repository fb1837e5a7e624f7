#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "store/session_store.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace voicegate::cli {

/// A subcommand as registered: its CLI11 definition, and what runs it once the command line is
/// parsed (returns the exit code). Its options live in the closure.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

/// Where configuration comes from, and the flags that override it (options common to the
/// commands that load the configuration). Not thread-safe (filled by the parser).
struct CommonOptions {
    std::string config_file;
    std::string env_file = ".env";
    std::map<std::string, std::string> flags;
    std::map<std::string, std::string> flag_names;  // variable -> "--flag VALUE", as registered
};

/// The process environment as a map (names to values). Reads `environ`.
std::map<std::string, std::string> environment();

/// Adds a flag `name` that sets the variable `env`; its help is the setting's, from the settings
/// table. `common` must outlive `cmd`'s parsing.
void add_flag(CLI::App* cmd, CommonOptions& common, const std::string& name,
              const std::string& env);

/// Adds a flag without a value that sets the boolean variable `env` to 1 (its help: the
/// setting's, less the "1: " that describes the variable's value).
void add_switch(CLI::App* cmd, CommonOptions& common, const std::string& name,
                const std::string& env);

/// Adds --config, --env-file, --database-url and --log-level.
void add_config_options(CLI::App* cmd, CommonOptions& common);

/// Loads the configuration (--config file, .env, environment, flags), printing each error, and
/// the warnings, one line each on stderr; nullopt after an error.
std::optional<config::Config> load(const CommonOptions& common);

/// The footer listing every environment variable with its help.
std::string variables_help();

/// Prints "voicegate WHAT: message (details)" for a failure on stderr and returns exit code 1.
int failed(const std::string& what, const Failure& f);

/// The prologue of a command that reads or writes the database, first half: the configuration
/// loaded (as load()), then logging started without the access log; nullopt (exit code 2) when
/// the configuration has errors.
std::optional<config::Config> load_and_start_logging(const CommonOptions& common);

/// The prologue's second half: the store opened as `serve` opens it, or, on failure,
/// "voicegate COMMAND: cannot open DATABASE: message (details)" on stderr and nullptr (the
/// caller exits with code 1).
std::unique_ptr<store::SessionStore> open_store_or_report(const config::Config& config,
                                                          const std::string& command,
                                                          const Clock* clock);

}  // namespace voicegate::cli
