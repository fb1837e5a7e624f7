#include "cli/common.hpp"

#include <cstdio>

#include <CLI/CLI.hpp>

#include "app/app.hpp"
#include "core/file.hpp"
#include "core/log.hpp"
#include "store/open_store.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX: the program declares it

namespace voicegate::cli {

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string kv(*e);
        const auto eq = kv.find('=');
        if (eq != std::string::npos) {
            env[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
    }
    return env;
}

void add_flag(CLI::App* cmd, CommonOptions& common, const std::string& name,
              const std::string& env) {
    cmd->add_option_function<std::string>(
           name, [&common, env](const std::string& v) { common.flags[env] = v; },
           config::setting_help(env, true))
        ->type_name("VALUE");
    common.flag_names[env] = name + " VALUE";
}

void add_switch(CLI::App* cmd, CommonOptions& common, const std::string& name,
                const std::string& env) {
    auto help = config::setting_help(env, false);
    if (help.rfind("1: ", 0) == 0) {
        help.erase(0, 3);
    }
    cmd->add_flag_function(
        name, [&common, env](std::int64_t) { common.flags[env] = "1"; }, help);
    common.flag_names[env] = name;
}

void add_config_options(CLI::App* cmd, CommonOptions& common) {
    cmd->add_option("--config", common.config_file, "TOML configuration file")->type_name("FILE");
    cmd->add_option("--env-file", common.env_file, "dotenv file read if present (default .env)")
        ->type_name("FILE");
    add_flag(cmd, common, "--database-url", "DATABASE_URL");
    add_flag(cmd, common, "--log-level", "VOICEGATE_LOG_LEVEL");
}

std::optional<config::Config> load(const CommonOptions& common) {
    config::Sources src;
    if (!common.config_file.empty()) {
        auto text = read_file(common.config_file);
        if (!text) {
            std::fprintf(stderr, "voicegate: config: cannot read --config %s\n",
                         common.config_file.c_str());
            return std::nullopt;
        }
        src.toml_text = *text;
        src.toml_path = common.config_file;
    }
    if (auto dotenv = read_file(common.env_file)) {
        src.dotenv = config::parse_dotenv(*dotenv);
    }
    src.env = environment();
    src.flags = common.flags;
    auto result = config::load_config(src);
    for (const auto& e : result.errors) {
        std::fprintf(stderr, "voicegate: config: %s\n", e.c_str());
    }
    if (!result.config) {
        std::fprintf(stderr, "voicegate: not started: fix the %zu problem(s) above\n",
                     result.errors.size());
        return std::nullopt;
    }
    for (const auto& w : result.warnings) {
        std::fprintf(stderr, "voicegate: warning: %s\n", w.c_str());
    }
    return result.config;
}

std::string variables_help() {
    std::string out =
        "\nEnvironment variables (flags > environment > .env > --config file > defaults):\n";
    for (const auto& [name, help] : config::known_variables()) {
        out +=
            "  " + name + std::string(name.size() < 38 ? 38 - name.size() : 1, ' ') + help + "\n";
    }
    return out;
}

int failed(const std::string& what, const Failure& f) {
    std::fprintf(stderr, "voicegate %s: %s%s%s%s\n", what.c_str(),
                 std::string(f.public_message()).c_str(), f.details.empty() ? "" : " (",
                 f.details.c_str(), f.details.empty() ? "" : ")");
    return 1;
}

std::optional<config::Config> load_and_start_logging(const CommonOptions& common) {
    auto cfg = load(common);
    if (cfg) {
        log::init({cfg->log.level, cfg->log.json, false});
    }
    return cfg;
}

std::unique_ptr<store::SessionStore> open_store_or_report(const config::Config& config,
                                                          const std::string& command,
                                                          const Clock* clock) {
    auto opened = store::open_store(config.store.url, app::store_options_for(config, clock));
    if (!opened) {
        failed(command + ": cannot open " + store::redact_database_url(config.store.url),
               opened.error());
        return nullptr;
    }
    return std::move(*opened);
}

}  // namespace voicegate::cli
