#include <cstdio>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/commands.hpp"
#include "cli/post_json.hpp"

namespace voicegate::cli {

namespace {

struct TokenOptions {
    CommonOptions common;
    std::string server;
    std::string model;
    std::string voice;
    std::string instructions;
    std::string user;
    std::string bearer;
    bool quiet = false;
};

// The body of POST /api/realtime/token for the options: userId and sessionConfig, each only
// when given.
std::string token_request_body(const TokenOptions& t) {
    boost::json::object sc;
    if (!t.model.empty()) {
        sc["model"] = t.model;
    }
    if (!t.voice.empty()) {
        sc["voice"] = t.voice;
    }
    if (!t.instructions.empty()) {
        sc["instructions"] = t.instructions;
    }
    boost::json::object body;
    if (!t.user.empty()) {
        body["userId"] = t.user;
    }
    if (!sc.empty()) {
        body["sessionConfig"] = sc;
    }
    return boost::json::serialize(body);
}

int run_token(const TokenOptions& t) {
    std::string server = t.server;
    if (server.empty()) {
        auto cfg = load(t.common);
        if (!cfg) {
            return 2;
        }
        const auto& h = cfg->server.host;
        const std::string host = h == "0.0.0.0" ? "127.0.0.1" : (h == "::" ? "[::1]" : h);
        server = "http://" + host + ":" + std::to_string(cfg->server.port);
    }
    auto res =
        cli_post_json(server, "/api/realtime/token", token_request_body(t), t.bearer, 35'000);
    if (!res.error.empty()) {
        std::fprintf(stderr, "voicegate token: %s\n", res.error.c_str());
        return 1;
    }
    if (res.status != 200) {
        std::fprintf(stderr, "voicegate token: HTTP %d: %s\n", res.status, res.body.c_str());
        return 1;
    }
    if (t.quiet) {
        boost::system::error_code ec;
        auto v = boost::json::parse(res.body, ec);
        if (!ec && v.is_object() && v.as_object().contains("token")) {
            std::printf("%s\n", std::string(v.as_object().at("token").as_string()).c_str());
            return 0;
        }
    }
    std::printf("%s\n", res.body.c_str());
    return 0;
}

}  // namespace

Command add_token(CLI::App& cli) {
    auto o = std::make_shared<TokenOptions>();
    auto* token = cli.add_subcommand(
        "token", "Mint a token from a running voicegate (like the README's curl)");
    add_config_options(token, o->common);
    token->add_option("--server", o->server, "voicegate base URL (default: from VOICEGATE_LISTEN)");
    token->add_option("--model", o->model, "model (aliases allowed)");
    token->add_option("--voice", o->voice, "voice");
    token->add_option("--instructions", o->instructions, "instructions");
    token->add_option("--user", o->user, "userId (when auth is off)");
    token->add_option("--bearer", o->bearer, "JWT to send as Authorization: Bearer");
    token->add_flag("--quiet,-q", o->quiet, "print only the ek_ token");
    return {token, [o] { return run_token(*o); }};
}

}  // namespace voicegate::cli
