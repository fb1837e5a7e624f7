#include "emulator/options.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include <boost/json.hpp>

namespace voicegate::emulator {
namespace {

std::string normalise(std::string_view name) {
    std::string n(name);
    for (auto& c : n) {
        c = c == '_' ? '-' : c;
    }
    return n;
}

std::string problem(std::string_view option, std::string_view text, std::string_view expected) {
    return "--" + std::string(option) + ": '" + std::string(text) + "' is not " +
           std::string(expected);
}

bool parse_i64(std::string_view text, std::int64_t min, std::int64_t max, std::int64_t& out) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
        return false;
    }
    out = v;
    return true;
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return false;
    }
    out = v;
    return true;
}

bool parse_rate(std::string_view text, double& out) {
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !(v >= 0.0 && v <= 1.0)) {
        return false;
    }
    out = v;
    return true;
}

bool parse_bool(std::string_view text, bool& out) {
    if (text == "true" || text == "1" || text == "yes" || text == "on") {
        out = true;
        return true;
    }
    if (text == "false" || text == "0" || text == "no" || text == "off") {
        out = false;
        return true;
    }
    return false;
}

constexpr std::int64_t kMaxMs = 3'600'000;

// One setter per field, generated from the member it sets.
template <std::int64_t FaultSettings::*Field>
std::string set_fault_ms(EmulatorOptions& o, std::string_view t) {
    return parse_i64(t, 0, kMaxMs, o.faults.*Field) ? "" : "a number of milliseconds 0..3600000";
}

template <double FaultSettings::*Field>
std::string set_fault_rate(EmulatorOptions& o, std::string_view t) {
    return parse_rate(t, o.faults.*Field) ? "" : "a rate between 0 and 1";
}

template <std::int64_t FaultSettings::*Field>
std::string set_fault_long_ms(EmulatorOptions& o, std::string_view t) {
    return parse_i64(t, 0, 86'400'000, o.faults.*Field) ? ""
                                                        : "a number of milliseconds 0..86400000";
}

constexpr std::int64_t kMaxTokens = 10'000'000;

template <std::int64_t ResponseUsage::*Field>
std::string set_response_tokens(EmulatorOptions& o, std::string_view t) {
    return parse_i64(t, 0, kMaxTokens, o.sideband.response_usage.*Field)
               ? ""
               : "a token count 0..10000000";
}

template <std::int64_t TranscriptionUsage::*Field>
std::string set_transcription_tokens(EmulatorOptions& o, std::string_view t) {
    return parse_i64(t, 0, kMaxTokens, o.sideband.transcription_usage.*Field)
               ? ""
               : "a token count 0..10000000";
}

template <bool SidebandSettings::*Field>
std::string set_sideband_bool(EmulatorOptions& o, std::string_view t) {
    return parse_bool(t, o.sideband.*Field) ? "" : "a boolean (true/false)";
}

std::string set_turn_interval(EmulatorOptions& o, std::string_view t) {
    return parse_i64(t, 0, kMaxMs, o.sideband.turn_interval_ms)
               ? ""
               : "a number of milliseconds 0..3600000";
}

std::string set_call_cap(EmulatorOptions& o, std::string_view t) {
    return parse_i64(t, 1, 86'400, o.sideband.call_cap_seconds) ? ""
                                                                : "a number of seconds 1..86400";
}

std::string set_transcription_kind(EmulatorOptions& o, std::string_view t) {
    if (t != "tokens" && t != "duration") {
        return "tokens or duration";
    }
    o.sideband.transcription_usage.duration = t == "duration";
    return "";
}

std::string set_transcription_seconds(EmulatorOptions& o, std::string_view t) {
    double v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || end != t.data() + t.size() || !(v >= 0.0 && v <= 86'400.0)) {
        return "a number of seconds 0..86400";
    }
    o.sideband.transcription_usage.seconds = v;
    return "";
}

std::string set_api_key(EmulatorOptions& o, std::string_view t) {
    if (t.empty()) {
        return "a non-empty key";
    }
    o.api_key = std::string(t);
    return "";
}

std::string set_seed(EmulatorOptions& o, std::string_view t) {
    return parse_u64(t, o.seed) ? "" : "an unsigned integer";
}

std::string set_max_secrets(EmulatorOptions& o, std::string_view t) {
    std::int64_t v = 0;
    if (!parse_i64(t, 1, 100'000'000, v)) {
        return "an integer 1..100000000";
    }
    o.max_secrets = static_cast<std::size_t>(v);
    return "";
}

std::string set_max_calls(EmulatorOptions& o, std::string_view t) {
    std::int64_t v = 0;
    if (!parse_i64(t, 1, 100'000'000, v)) {
        return "an integer 1..100000000";
    }
    o.max_calls = static_cast<std::size_t>(v);
    return "";
}

std::string set_single_use(EmulatorOptions& o, std::string_view t) {
    return parse_bool(t, o.single_use_secrets) ? "" : "a boolean (true/false)";
}

std::string set_media_address(EmulatorOptions& o, std::string_view t) {
    if (t.empty() || t.find_first_of(" \r\n") != std::string_view::npos) {
        return "an IP address";
    }
    o.media_address = std::string(t);
    return "";
}

constexpr OptionSpec kSpecs[] = {
    {"api-key", "KEY", "accept only this bearer API key (default: any key starting with sk-)",
     false, set_api_key},
    {"seed", "N", "seed of the fault-injection random generator (0: random)", false, set_seed},
    {"max-secrets", "N", "issued client secrets remembered for /v1/realtime/calls", false,
     set_max_secrets},
    {"max-calls", "N", "created calls remembered for /hangup", false, set_max_calls},
    {"single-use-secrets", "BOOL", "reject a client secret's second use at /v1/realtime/calls",
     false, set_single_use},
    {"media-address", "IP", "ICE host candidate address written into SDP answers", false,
     set_media_address},
    {"latency-ms", "MS", "delay added before every OpenAI-route answer", true,
     set_fault_ms<&FaultSettings::latency_ms>},
    {"latency-jitter-ms", "MS", "extra random delay, uniform in 0..MS", true,
     set_fault_ms<&FaultSettings::latency_jitter_ms>},
    {"error-rate", "RATE", "share of requests answered 500 server_error (0..1)", true,
     set_fault_rate<&FaultSettings::error_rate>},
    {"rate-limit-rate", "RATE", "share answered 429 rate_limit_exceeded with retry-after", true,
     set_fault_rate<&FaultSettings::rate_limit_rate>},
    {"quota-rate", "RATE", "share answered 429 insufficient_quota", true,
     set_fault_rate<&FaultSettings::quota_rate>},
    {"malformed-rate", "RATE", "share answered 2xx with a truncated, unparseable body", true,
     set_fault_rate<&FaultSettings::malformed_rate>},
    {"reset-rate", "RATE", "share whose connection is reset (TCP RST) without an answer", true,
     set_fault_rate<&FaultSettings::reset_rate>},
    {"hang-rate", "RATE", "share that never get an answer", true,
     set_fault_rate<&FaultSettings::hang_rate>},
    {"retry-after-ms", "MS", "retry-after-ms of injected 429s (retry-after: rounded up to s)", true,
     set_fault_ms<&FaultSettings::retry_after_ms>},
    {"sideband-refuse-rate", "RATE", "share of sideband joins answered 503 before the upgrade",
     true, set_fault_rate<&FaultSettings::sideband_refuse_rate>},
    {"sideband-drop-after-ms", "MS",
     "cut each sideband's TCP connection MS after it joined, no close frame (0: never)", true,
     set_fault_long_ms<&FaultSettings::sideband_drop_after_ms>},
    {"sideband-delay-ms", "MS", "hold every event to a sideband this long (a slow sideband)", true,
     set_fault_ms<&FaultSettings::sideband_delay_ms>},
    {"turn-interval-ms", "MS",
     "a scripted conversation turn every MS while a sideband listens (0: none)", false,
     set_turn_interval},
    {"response-input-text-tokens", "N", "response.done usage: input text tokens", false,
     set_response_tokens<&ResponseUsage::input_text>},
    {"response-input-audio-tokens", "N", "response.done usage: input audio tokens", false,
     set_response_tokens<&ResponseUsage::input_audio>},
    {"response-input-image-tokens", "N", "response.done usage: input image tokens", false,
     set_response_tokens<&ResponseUsage::input_image>},
    {"response-cached-text-tokens", "N", "response.done usage: cached text tokens (of input)",
     false, set_response_tokens<&ResponseUsage::cached_text>},
    {"response-cached-audio-tokens", "N", "response.done usage: cached audio tokens (of input)",
     false, set_response_tokens<&ResponseUsage::cached_audio>},
    {"response-cached-image-tokens", "N", "response.done usage: cached image tokens (of input)",
     false, set_response_tokens<&ResponseUsage::cached_image>},
    {"response-output-text-tokens", "N", "response.done usage: output text tokens", false,
     set_response_tokens<&ResponseUsage::output_text>},
    {"response-output-audio-tokens", "N", "response.done usage: output audio tokens", false,
     set_response_tokens<&ResponseUsage::output_audio>},
    {"transcription-usage", "KIND",
     "usage of input transcriptions: tokens or duration (default tokens)", false,
     set_transcription_kind},
    {"transcription-input-text-tokens", "N", "transcription usage (tokens): input text tokens",
     false, set_transcription_tokens<&TranscriptionUsage::input_text>},
    {"transcription-input-audio-tokens", "N", "transcription usage (tokens): input audio tokens",
     false, set_transcription_tokens<&TranscriptionUsage::input_audio>},
    {"transcription-output-tokens", "N", "transcription usage (tokens): output tokens", false,
     set_transcription_tokens<&TranscriptionUsage::output>},
    {"transcription-seconds", "S", "transcription usage (duration): seconds per transcription",
     false, set_transcription_seconds},
    {"call-cap-seconds", "S",
     "a call's maximum duration: session_expired and close 1001 at it (default 3600)", false,
     set_call_cap},
    {"session-created", "BOOL", "send session.created first on each sideband (real API: no)", false,
     set_sideband_bool<&SidebandSettings::emit_session_created>},
    {"sideband-refuse-ek", "BOOL",
     "answer a sideband join with an ek_ key 404 call_id_not_found (default true)", false,
     set_sideband_bool<&SidebandSettings::refuse_ephemeral>},
};

std::string json_scalar_text(const boost::json::value& v) {
    if (v.is_string()) {
        return std::string(v.get_string());
    }
    if (v.is_bool()) {
        return v.get_bool() ? "true" : "false";
    }
    if (v.is_int64()) {
        return std::to_string(v.get_int64());
    }
    if (v.is_uint64()) {
        return std::to_string(v.get_uint64());
    }
    if (v.is_double()) {
        const double d = v.get_double();
        // Integral doubles (e.g. 20.0) must still parse as integers for the *_ms fields.
        if (std::floor(d) == d && std::fabs(d) < 1e15) {
            return std::to_string(static_cast<std::int64_t>(d));
        }
        char buf[64];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
        return std::string(buf, end);
    }
    return v.is_null() ? std::string("null") : std::string("a structured value");
}

}  // namespace

bool FaultSettings::none() const {
    return latency_ms == 0 && latency_jitter_ms == 0 && error_rate == 0 && rate_limit_rate == 0 &&
           quota_rate == 0 && malformed_rate == 0 && reset_rate == 0 && hang_rate == 0 &&
           sideband_refuse_rate == 0 && sideband_drop_after_ms == 0 && sideband_delay_ms == 0;
}

std::span<const OptionSpec> emulator_option_specs() {
    return kSpecs;
}

const OptionSpec* find_emulator_option(std::string_view name) {
    const std::string n = normalise(name);
    for (const auto& s : kSpecs) {
        if (s.name == n) {
            return &s;
        }
    }
    return nullptr;
}

std::string set_emulator_option(EmulatorOptions& options, std::string_view name,
                                std::string_view text) {
    const OptionSpec* spec = find_emulator_option(name);
    if (spec == nullptr) {
        return "unknown option --" + normalise(name);
    }
    const std::string expected = spec->set(options, text);
    return expected.empty() ? "" : problem(spec->name, text, expected);
}

std::vector<std::string> parse_emulator_args(const std::vector<std::string>& args,
                                             EmulatorOptions& options) {
    std::vector<std::string> errors;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg.substr(0, 2) != "--" || arg.size() == 2) {
            errors.push_back("unexpected argument '" + std::string(arg) + "'");
            continue;
        }
        arg.remove_prefix(2);
        std::string_view name = arg;
        std::string value;
        bool has_value = false;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = std::string(arg.substr(eq + 1));
            has_value = true;
        }
        const OptionSpec* spec = find_emulator_option(name);
        if (spec == nullptr) {
            errors.push_back("unknown option --" + std::string(name));
            continue;
        }
        if (!has_value) {
            const bool next_is_value = i + 1 < args.size() && args[i + 1].substr(0, 2) != "--";
            if (next_is_value) {
                value = args[++i];
            } else if (std::string_view(spec->value_name) == "BOOL") {
                value = "true";  // a bare flag
            } else {
                errors.push_back("--" + std::string(spec->name) + ": a value (" +
                                 std::string(spec->value_name) + ") is required");
                continue;
            }
        }
        if (auto err = set_emulator_option(options, spec->name, value); !err.empty()) {
            errors.push_back(std::move(err));
        }
    }
    return errors;
}

std::vector<std::string> apply_emulator_options(const std::map<std::string, std::string>& settings,
                                                EmulatorOptions& options) {
    std::vector<std::string> errors;
    for (const auto& [name, text] : settings) {
        if (auto err = set_emulator_option(options, name, text); !err.empty()) {
            errors.push_back(std::move(err));
        }
    }
    return errors;
}

boost::json::object faults_to_json(const FaultSettings& f) {
    return boost::json::object{
        {"latency_ms", f.latency_ms},
        {"latency_jitter_ms", f.latency_jitter_ms},
        {"error_rate", f.error_rate},
        {"rate_limit_rate", f.rate_limit_rate},
        {"quota_rate", f.quota_rate},
        {"malformed_rate", f.malformed_rate},
        {"reset_rate", f.reset_rate},
        {"hang_rate", f.hang_rate},
        {"retry_after_ms", f.retry_after_ms},
        {"sideband_refuse_rate", f.sideband_refuse_rate},
        {"sideband_drop_after_ms", f.sideband_drop_after_ms},
        {"sideband_delay_ms", f.sideband_delay_ms},
    };
}

ApiResult<FaultSettings> apply_faults_json(FaultSettings current, std::string_view body) {
    auto fail = [](std::string message, std::string param, std::string code) {
        ApiError e;
        e.message = std::move(message);
        e.param = std::move(param);
        e.code = std::move(code);
        return e;
    };
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) {
        return fail("The body must be a JSON object of fault settings.", "", "invalid_json");
    }
    EmulatorOptions scratch;
    scratch.faults = current;
    for (const auto& kv : v.get_object()) {
        const OptionSpec* spec = find_emulator_option(kv.key());
        const std::string key(kv.key());
        if (spec == nullptr || !spec->fault) {
            return fail("Unknown parameter: '" + key + "'.", key, "unknown_parameter");
        }
        const std::string text = json_scalar_text(kv.value());
        if (const std::string expected = spec->set(scratch, text); !expected.empty()) {
            return fail("Invalid value for '" + key + "': " + text + " is not " + expected + ".",
                        key, "invalid_value");
        }
    }
    return scratch.faults;
}

}  // namespace voicegate::emulator
