// POST /api/realtime/token and /end bodies, as TokenHandler and EndHandler read them:
// http::parse_json_object on the raw body (Content-Type application/json), then
// parse_token_request (under one of two token policies) or parse_end_request, then what the
// handler builds from a valid request. Input: a mode byte, then the body.
//   mode & 1: 0 = token request, 1 = end request
//   mode & 2: token policy: 0 = the defaults, 1 = one with profiles, aliases, allowlists
#include <cstdint>
#include <stdexcept>

#include "api/token_request.hpp"
#include "config/config.hpp"
#include "http/message.hpp"
#include "http/response.hpp"
#include "targets/fuzz_input.hpp"

namespace {

using namespace voicegate;

// A policy as an operator would configure it: aliases, allowlists and two profiles.
constexpr const char* kPolicyToml = R"(
[tokens]
ttl_seconds = 600
max_ttl_seconds = 3600
max_instructions_bytes = 2048
models = ["gpt-realtime", "gpt-realtime-mini"]
voices = ["alloy", "marin", "cedar"]

[tokens.aliases]
"gpt-4o-realtime-preview" = "gpt-realtime"

[profiles.diary]
description = "Diary-writing helper"
model = "gpt-realtime"
voice = "marin"
instructions = "You are a friendly diary-writing helper."
max_output_tokens = 4096
turn_detection = { type = "semantic_vad", eagerness = "auto" }
transcription = { model = "gpt-4o-mini-transcribe" }
allow_override = ["voice"]

[profiles.open]
model = "gpt-realtime-mini"
allow_override = ["model", "voice", "instructions", "maxOutputTokens"]
)";

const config::TokenPolicy& policy(bool custom) {
    static const config::TokenPolicy defaults = config::Config{}.tokens;
    static const config::TokenPolicy configured = [] {
        config::Sources sources;
        sources.toml_text = kPolicyToml;
        sources.toml_path = "fuzz.toml";
        auto loaded = config::load_config(sources);
        if (!loaded.config) {
            throw std::runtime_error("fuzz token policy does not load: " +
                                     (loaded.errors.empty() ? "" : loaded.errors.front()));
        }
        return loaded.config->tokens;
    }();
    return custom ? configured : defaults;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    http::Request req;
    req.method = "POST";
    req.headers.emplace_back("content-type", "application/json");
    req.body = std::string(text);
    auto body = http::parse_json_object(req);
    if (!body) {
        (void)http::error_response(body.error(), true);
        return 0;
    }
    if ((mode & 1) == 0) {
        auto params = api::parse_token_request(*body, policy((mode & 2) != 0));
        if (!params) {
            (void)http::error_response(params.error(), true);
            return 0;
        }
        (void)api::build_upstream_session(*params);
        upstream::ClientSecret secret{"ek_fuzz", 1'700'000'000, "sess_fuzz", params->model,
                                      "alloy"};
        (void)api::token_response_body(secret, params->warnings);
    } else {
        auto params = api::parse_end_request(*body);
        if (!params) {
            (void)http::error_response(params.error(), true);
            return 0;
        }
        (void)api::duration_json(params->duration_s);
    }
    return 0;
}
