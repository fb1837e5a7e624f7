// docs/configuration.md, rendered from the settings table.
#include <algorithm>
#include <sstream>
#include <string_view>

#include "config/detail.hpp"

namespace voicegate::config {
namespace {

// A reference section: the title of a TOML section, and what the file holds there beyond the
// table's keys.
struct SectionDoc {
    std::string_view section;
    std::string_view title;
    std::string_view note;
};

const SectionDoc& section_doc(const std::string& section) {
    static const std::vector<SectionDoc> kSections = {
        {"upstream", "Upstream (OpenAI)", ""},
        {"server", "HTTP server", ""},
        {"tokens", "Token policy",
         "The file also takes session profiles that clients select with "
         "`sessionConfig.profile`: one `[profiles.NAME]` table each (for relayed and supervised "
         "calls, docs/api.md: `data_channel` `\"allow\"` (default) or `\"deny\"`, "
         "`max_minutes` the call's cap, fractions allowed (default VOICEGATE_SESSION_MAX_MINUTES), "
         "`on_violation` "
         "`\"reapply\"` (default) or `\"hangup\"`), with the keys "},
        {"store", "Storage", ""},
        {"log", "Logging", ""},
        {"auth", "Identity and admin access", ""},
        {"limits", "Rate limits, IP filters and Redis", ""},
        {"prices", "Prices for cost estimates",
         "In the file: one `[prices.\"MODEL\"]` table per model, overriding only the keys it "
         "sets among "},
        {"quota", "Per-user quotas", ""},
        {"metrics", "Metrics (`GET /metrics`)", ""},
        {"alerts", "Anomaly alerts", ""},
        {"emulator", "Built-in emulator",
         "In the file, `[emulator]` holds the emulator's options: faults, the sideband's "
         "scripted conversation and usage, the call cap (`voicegate emulate --help` lists "
         "them; [emulator.md](emulator.md) describes its routes)."},
    };
    for (const auto& d : kSections) {
        if (d.section == section) {
            return d;
        }
    }
    static const SectionDoc kUntitled{"", "", ""};
    return kUntitled;
}

// Text for a Markdown table cell: `|` would end the cell, `*` and `<` could start markup.
std::string md_cell(const std::string& text) {
    std::string out;
    for (const char ch : text) {
        if (ch == '|' || ch == '*' || ch == '<') {
            out += '\\';
        }
        out += ch;
    }
    return out;
}

// A code span in a table cell: only `|` is escaped (the table's syntax); the span is literal.
std::string md_code(const std::string& text) {
    std::string out = "`";
    for (const char ch : text) {
        if (ch == '|') {
            out += '\\';
        }
        out += ch;
    }
    return out + "`";
}

// `text` as a Markdown paragraph: lines of at most 100 columns (broken at spaces, so a longer
// word keeps its own line), then a blank line.
std::string md_paragraph(const std::string& text) {
    constexpr std::size_t kWidth = 100;
    std::string out;
    std::size_t line_start = 0;
    std::istringstream words(text);
    for (std::string word; words >> word;) {
        if (out.size() > line_start && out.size() - line_start + 1 + word.size() > kWidth) {
            out += '\n';
            line_start = out.size();
        } else if (out.size() > line_start) {
            out += ' ';
        }
        out += word;
    }
    return out + "\n\n";
}

std::string md_code_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        out += (out.empty() ? "" : ", ") + md_code(item);
    }
    return out;
}

// One section of the reference: its title, its note, and a table row per setting.
std::string section_markdown(const std::string& section,
                             const std::map<std::string, std::string>& flags) {
    const auto& doc = section_doc(section);
    std::string md = "## " + (doc.title.empty() ? section : std::string(doc.title)) + ": `[" +
                     section + "]`\n\n";
    if (section == "tokens") {
        md += md_paragraph(std::string(doc.note) + md_code_list(profile_fields()) + ".");
    } else if (section == "prices") {
        std::vector<std::string> keys(price_keys().begin(), price_keys().end());
        md += md_paragraph(std::string(doc.note) + md_code_list(keys) +
                           " (USD per 1M tokens; `per_minute`: USD per billable minute).");
    } else if (!doc.note.empty()) {
        md += md_paragraph(std::string(doc.note));
    }
    md += "| Variable | TOML key | Flag | Default | Description |\n";
    md += "|---|---|---|---|---|\n";
    for (const auto& s : settings()) {
        if (s.section != section) {
            continue;
        }
        const auto flag = flags.find(s.env);
        std::string help = md_cell(s.help);
        if (s.secret) {
            help += ". Secret: only from the environment or the dotenv file, never printed";
        }
        md += "| " + md_code(s.env) + " | " + (s.key.empty() ? "—" : md_code(s.key)) + " | " +
              (flag == flags.end() ? "—" : md_code(flag->second)) + " | " +
              (s.default_value.empty() ? "*unset*" : md_code(s.default_value)) + " | " + help +
              " |\n";
    }
    return md + "\n";
}

}  // namespace

std::string configuration_reference_markdown(const std::map<std::string, std::string>& flags) {
    std::vector<std::string> sections;  // in the order the table first names them
    for (const auto& s : settings()) {
        if (std::find(sections.begin(), sections.end(), s.section) == sections.end()) {
            sections.push_back(s.section);
        }
    }
    std::string md =
        "# Configuration reference\n\n"
        "<!-- Generated by `voicegate config-reference`; do not edit. Run `make docs`. -->\n\n";
    md += md_paragraph(
        "This file is generated from the settings table in `src/config/settings.cpp`, the same "
        "table that `voicegate serve --help` prints, by `voicegate config-reference`. Do not edit "
        "it by "
        "hand: change the table, then run `make docs` to rewrite it. A test of `make test` fails "
        "while this file differs from what the binary prints. Back to the [README](../README.md).");
    md += md_paragraph("It lists " + std::to_string(settings().size()) + " settings in " +
                       std::to_string(sections.size()) + " sections.");
    md +=
        "## Where a setting comes from\n\n"
        "Each setting is taken from the first of these that sets it:\n\n"
        "1. a command-line flag of `voicegate serve` (column *Flag*);\n"
        "2. the environment variable;\n"
        "3. the dotenv file (`--env-file FILE`, default `.env`, read when it exists);\n"
        "4. the TOML file given with `--config FILE` (column *TOML key*: the key in the "
        "section's table);\n"
        "5. the default.\n\n";
    md += md_paragraph(
        "Other commands that read the configuration (`voicegate COMMAND --help`) accept some of "
        "the same flags. Start-up validates every setting and exits with status 2, printing one "
        "line per problem; a secret's value is never printed. Secrets are read only from the "
        "environment or the dotenv file, never from the TOML file.");
    md += md_paragraph(
        "Values and defaults are written as the environment variable holds them: booleans as `1` "
        "or `0` (`true`/`false`, `yes`/`no` and `on`/`off` work too), lists comma-separated (TOML "
        "arrays in the file). *unset* means the setting is off or derived, as its description "
        "says.");
    for (const auto& section : sections) {
        md += section_markdown(section, flags);
    }
    md.pop_back();  // one newline at the end of the file
    return md;
}

}  // namespace voicegate::config
