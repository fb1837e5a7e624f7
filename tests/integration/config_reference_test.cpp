// docs/configuration.md against the real binary: the committed file is what
// `voicegate config-reference` prints, and it has one row for each variable `serve --help` lists.
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/child_process.hpp"

namespace voicegate::test {
namespace {
using namespace std::chrono_literals;

const std::string kDocPath = std::string(VOICEGATE_SOURCE_DIR) + "/docs/configuration.md";
const char* const kHint =
    "docs/configuration.md is not what the binary generates from the settings table "
    "(src/config/settings.cpp): run `make docs` and commit docs/configuration.md";

// Everything `voicegate ARGS...` prints (stdout and stderr), after checking it exits 0.
std::string run_binary(const std::vector<std::string>& args) {
    std::vector<std::string> argv{VOICEGATE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess p(argv);
    EXPECT_EQ(p.wait_exit(20s), 0) << p.output();
    return p.output();
}

std::string read_doc() {
    std::ifstream in(kDocPath, std::ios::binary);
    EXPECT_TRUE(in) << "cannot read " << kDocPath << "; " << kHint;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

// The variables the footer of `serve --help` lists: the lines "  NAME   help" after the
// "Environment variables" heading.
std::set<std::string> help_variables(const std::string& help) {
    static const std::regex kLine(R"(^  ([A-Z][A-Z0-9_]*)\s+\S.*$)");
    std::set<std::string> names;
    bool in_footer = false;
    for (const auto& line : lines_of(help)) {
        if (line.find("Environment variables") != std::string::npos) {
            in_footer = true;
            continue;
        }
        std::smatch m;
        if (in_footer && std::regex_match(line, m, kLine)) {
            names.insert(m[1]);
        }
    }
    return names;
}

// How many setting rows (table rows whose first cell is `NAME`) each variable has.
std::map<std::string, int> setting_rows(const std::string& md) {
    static const std::regex kRow(R"(^\| `([A-Z][A-Z0-9_]*)` \|.*\|$)");
    std::map<std::string, int> rows;
    for (const auto& line : lines_of(md)) {
        std::smatch m;
        if (std::regex_match(line, m, kRow)) {
            ++rows[m[1]];
        }
    }
    return rows;
}

TEST(ConfigReference, CommittedFileIsWhatTheBinaryGenerates) {
    const auto generated = run_binary({"config-reference"});
    const auto committed = read_doc();
    if (generated == committed) {
        return;
    }
    const auto want = lines_of(generated);
    const auto have = lines_of(committed);
    std::size_t i = 0;
    while (i < want.size() && i < have.size() && want[i] == have[i]) {
        ++i;
    }
    ADD_FAILURE() << kHint << "\nfirst difference at line " << i + 1
                  << ":\n  committed: " << (i < have.size() ? have[i] : "(end of file)")
                  << "\n  generated: " << (i < want.size() ? want[i] : "(end of output)");
}

TEST(ConfigReference, HasOneRowForEachVariableOfServeHelp) {
    const auto variables = help_variables(run_binary({"serve", "--help"}));
    // The help really was parsed, including settings an older hand-written table had missed.
    ASSERT_GT(variables.size(), 40U);
    for (const char* name : {"OPENAI_API_KEY", "VOICEGATE_BODY_LIMIT", "VOICEGATE_TOKEN_MAX_TTL",
                             "VOICEGATE_UPSTREAM_CA_FILE", "REDIS_URL"}) {
        EXPECT_EQ(variables.count(name), 1U) << name;
    }
    const auto rows = setting_rows(read_doc());
    for (const auto& name : variables) {
        const auto it = rows.find(name);
        EXPECT_EQ(it == rows.end() ? 0 : it->second, 1)
            << name << " must have exactly one row in docs/configuration.md; " << kHint;
    }
    for (const auto& [name, count] : rows) {
        EXPECT_EQ(variables.count(name), 1U)
            << name << " has a row in docs/configuration.md but `serve --help` does not list it";
    }
}

}  // namespace
}  // namespace voicegate::test
