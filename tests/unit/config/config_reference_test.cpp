// configuration_reference_markdown: what docs/configuration.md says agrees with the loader.
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace voicegate::config {
namespace {

// One setting row of the reference, its cells unescaped; `section` from the heading above it.
struct Row {
    std::string section;
    std::string env;
    std::string key;    // empty: "—"
    std::string flag;   // empty: "—"
    std::string value;  // the default; empty: *unset*
};

// The text of a cell: the inside of a `code` span, its `\|` made `|` again; empty otherwise.
std::string cell_text(std::string cell) {
    const auto b = cell.find_first_not_of(' ');
    const auto e = cell.find_last_not_of(' ');
    cell = b == std::string::npos ? std::string() : cell.substr(b, e - b + 1);
    if (cell.size() < 2 || cell.front() != '`' || cell.back() != '`') {
        return {};
    }
    std::string out;
    for (std::size_t i = 1; i + 1 < cell.size(); ++i) {
        if (cell[i] == '\\' && cell[i + 1] == '|') {
            ++i;
        }
        out += cell[i];
    }
    return out;
}

std::vector<Row> setting_rows(const std::string& md) {
    std::vector<Row> rows;
    std::string section;
    std::istringstream in(md);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("## ", 0) == 0) {
            const auto open = line.find("`[");
            const auto close = line.find("]`", open);
            section = open == std::string::npos || close == std::string::npos
                          ? std::string()
                          : line.substr(open + 2, close - open - 2);
            continue;
        }
        if (line.rfind("| `", 0) != 0) {
            continue;
        }
        std::vector<std::string> cells;  // split on | not escaped as \|
        std::string cell;
        for (std::size_t i = 1; i < line.size(); ++i) {
            if (line[i] == '|' && line[i - 1] != '\\') {
                cells.push_back(cell);
                cell.clear();
            } else {
                cell += line[i];
            }
        }
        if (cells.size() == 5) {
            rows.push_back({section, cell_text(cells[0]), cell_text(cells[1]), cell_text(cells[2]),
                            cell_text(cells[3])});
        }
    }
    return rows;
}

TEST(ConfigReference, ListsEveryKnownVariableOnceInASection) {
    const auto rows = setting_rows(configuration_reference_markdown({}));
    std::map<std::string, int> seen;
    for (const auto& r : rows) {
        ++seen[r.env];
        EXPECT_FALSE(r.section.empty()) << r.env;
    }
    ASSERT_EQ(rows.size(), known_variables().size());
    for (const auto& [name, help] : known_variables()) {
        EXPECT_EQ(seen[name], 1) << name;
    }
}

TEST(ConfigReference, ShowsTheFlagsItIsGiven) {
    const auto rows =
        setting_rows(configuration_reference_markdown({{"VOICEGATE_LISTEN", "--listen VALUE"}}));
    for (const auto& r : rows) {
        EXPECT_EQ(r.flag, r.env == "VOICEGATE_LISTEN" ? "--listen VALUE" : "") << r.env;
    }
}

// A documented default, given as the variable or as the TOML key, changes nothing: the reference
// cannot claim a default the loader does not use, nor a TOML key it does not read.
TEST(ConfigReference, DocumentedDefaultsAreTheLoadersDefaults) {
    auto base = load_config({});
    ASSERT_TRUE(base.config);
    std::map<std::string, std::string> toml_sections;  // section -> its key = "value" lines
    int documented = 0;
    for (const auto& r : setting_rows(configuration_reference_markdown({}))) {
        if (r.value.empty()) {
            continue;
        }
        ++documented;
        Sources by_env;
        by_env.env = {{r.env, r.value}};
        auto loaded = load_config(by_env);
        ASSERT_TRUE(loaded.config) << r.env << "=" << r.value << ": " << loaded.errors.at(0);
        loaded.config->upstream.base_url_set = false;  // records that it was given, not a value
        EXPECT_TRUE(*loaded.config == *base.config) << r.env << "=" << r.value;
        if (!r.key.empty()) {
            toml_sections[r.section] += r.key + " = \"" + r.value + "\"\n";
        }
    }
    EXPECT_GT(documented, 40);
    Sources by_file;
    by_file.toml_path = "defaults.toml";
    for (const auto& [section, lines] : toml_sections) {
        by_file.toml_text += "[" + section + "]\n" + lines;
    }
    auto loaded = load_config(by_file);
    ASSERT_TRUE(loaded.config) << by_file.toml_text << loaded.errors.at(0);
    loaded.config->upstream.base_url_set = false;
    EXPECT_TRUE(*loaded.config == *base.config) << by_file.toml_text;
}

// The command-line flags take their help from the same rows (main.cpp), with the default.
TEST(ConfigReference, FlagHelpIsTheSettingsHelpWithItsDefault) {
    std::string ttl_help;
    for (const auto& [name, help] : known_variables()) {
        if (name == "VOICEGATE_TOKEN_TTL") {
            ttl_help = help;
        }
    }
    ASSERT_FALSE(ttl_help.empty());
    EXPECT_EQ(setting_help("VOICEGATE_TOKEN_TTL", false), ttl_help);
    EXPECT_EQ(setting_help("VOICEGATE_TOKEN_TTL", true), ttl_help + " (default 1800)");
    // A setting without a default gets no "(default …)".
    EXPECT_EQ(setting_help("VOICEGATE_CORS_ORIGINS", true).find("(default"), std::string::npos);
    EXPECT_THROW(setting_help("VOICEGATE_NO_SUCH_SETTING", true), std::logic_error);
}

}  // namespace
}  // namespace voicegate::config
