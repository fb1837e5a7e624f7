#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "emulator/validate.hpp"

namespace voicegate::emulator {

/// Fault injection on the OpenAI routes (client_secrets, calls, hangup; the sideband has its
/// own three faults, below). Each request first
/// waits `latency_ms` plus a uniform 0..`latency_jitter_ms`, then suffers at most one fault,
/// drawn in this order, each with its own probability: reset, hang, error, rate limit, quota,
/// malformed. A rate of 1.0 makes that fault happen every time (unless an earlier one did).
struct FaultSettings {
    std::int64_t latency_ms = 0;         // >= 0
    std::int64_t latency_jitter_ms = 0;  // >= 0
    double error_rate = 0;               // 500 server_error
    double rate_limit_rate = 0;          // 429 rate_limit_exceeded + retry-after headers
    double quota_rate = 0;               // 429 insufficient_quota
    double malformed_rate = 0;           // 2xx with a truncated, unparseable body
    double reset_rate = 0;               // connection reset, no answer (http::Action::reset)
    double hang_rate = 0;                // no answer at all (http::Action::hang)
    std::int64_t retry_after_ms = 1000;  // what injected 429s advertise
    // The sideband WebSocket (GET /v1/realtime?call_id=):
    double sideband_refuse_rate = 0;          // share of joins answered 503 before the upgrade
    std::int64_t sideband_drop_after_ms = 0;  // > 0: each sideband's TCP connection is cut this
                                              // long after it joined (no close frame; the call
                                              // lives on, so a re-join works)
    std::int64_t sideband_delay_ms = 0;       // every event to a sideband is held this long

    /// True if no fault and no latency is configured.
    bool none() const;
    bool operator==(const FaultSettings&) const = default;
};

/// Token counts of each scripted response (`response.done.response.usage`); cached counts are
/// subsets of the input ones.
struct ResponseUsage {
    std::int64_t input_text = 12;
    std::int64_t input_audio = 40;
    std::int64_t input_image = 0;
    std::int64_t cached_text = 0;
    std::int64_t cached_audio = 0;
    std::int64_t cached_image = 0;
    std::int64_t output_text = 9;
    std::int64_t output_audio = 61;
    bool operator==(const ResponseUsage&) const = default;
};

/// The `usage` of each scripted `conversation.item.input_audio_transcription.completed`.
struct TranscriptionUsage {
    bool duration = false;  // true: {type:"duration", seconds}; false: {type:"tokens", ...}
    std::int64_t input_text = 0;
    std::int64_t input_audio = 17;
    std::int64_t output = 9;
    double seconds = 2.0;
    bool operator==(const TranscriptionUsage&) const = default;
};

/// The sideband WebSocket and the calls' conversation (SPEC §8).
struct SidebandSettings {
    /// Milliseconds between scripted conversation turns while a sideband listens; 0: none.
    std::int64_t turn_interval_ms = 0;
    ResponseUsage response_usage;
    TranscriptionUsage transcription_usage;
    /// A call's maximum duration: `session.expires_at` = start + this; at it the sidebands get
    /// `session_expired` and close 1001, and the call ends.
    std::int64_t call_cap_seconds = 3600;
    /// Send `session.created` as a sideband's first event (the real API sends nothing until
    /// the client speaks).
    bool emit_session_created = false;
    /// Answer a sideband join with an `ek_` key 404 call_id_not_found (as reported of the real
    /// API since 2026-09); false: a live ek_ of the emulator is accepted.
    bool refuse_ephemeral = true;
    bool operator==(const SidebandSettings&) const = default;
};

/// Everything `voicegate emulate` (or the in-process emulator) can be told.
struct EmulatorOptions {
    /// If non-empty, the only bearer API key accepted; else any key that starts with "sk-".
    std::string api_key;
    FaultSettings faults;
    /// Seed of the fault-injection generator; 0 picks a random seed. (Ids and secrets always
    /// come from the CSPRNG-seeded generator of core/ids.hpp.)
    std::uint64_t seed = 0;
    /// Issued client secrets remembered for /v1/realtime/calls: when full, the one expiring
    /// soonest is forgotten (its calls then get 401). ~200 bytes each.
    std::size_t max_secrets = 20'000;
    /// Created calls remembered for /hangup (oldest forgotten first). ~150 bytes each.
    std::size_t max_calls = 20'000;
    /// Reject a client secret's second use at /v1/realtime/calls with 401 (third-party reports
    /// say OpenAI does; its documentation says a secret may start several sessions).
    bool single_use_secrets = false;
    /// The address of the ICE host candidate put in SDP answers.
    std::string media_address = "127.0.0.1";
    SidebandSettings sideband;
    bool operator==(const EmulatorOptions&) const = default;
};

/// One command-line option of the emulator: `--<name> <value>` (or `--<name>=<value>`); fault
/// options are also keys of the `/_emulator/faults` JSON, spelt with '_' for '-'.
struct OptionSpec {
    std::string_view name;        // e.g. "latency-ms"
    std::string_view value_name;  // e.g. "MS", for help output
    std::string_view help;        // one line
    bool fault;                   // a FaultSettings field, changeable at run time
    /// Parses `text` into `options`; returns "" on success, else the problem (one line).
    std::string (*set)(EmulatorOptions& options, std::string_view text);
};

/// Every emulator option, in help order. Pure; the table is static.
std::span<const OptionSpec> emulator_option_specs();

/// The option named `name` ("latency-ms" or "latency_ms"), or nullptr. Pure.
const OptionSpec* find_emulator_option(std::string_view name);

/// Sets option `name` ("latency-ms" or "latency_ms") from `text`; returns "" on success, else
/// a one-line error naming the option. Pure.
std::string set_emulator_option(EmulatorOptions& options, std::string_view name,
                                std::string_view text);

/// Parses CLI-style arguments (`--name value`, `--name=value`, a bare boolean `--name`) into
/// `options`; returns one line per problem (unknown option, missing or bad value), empty on
/// success. Pure.
std::vector<std::string> parse_emulator_args(const std::vector<std::string>& args,
                                             EmulatorOptions& options);

/// Applies `name -> text` settings such as `voicegate emulate`'s flags (names as for
/// set_emulator_option); returns one line per problem, empty on success. (The config file's
/// `[emulator]` table is checked key by key with find_emulator_option.) Pure.
std::vector<std::string> apply_emulator_options(const std::map<std::string, std::string>& settings,
                                                EmulatorOptions& options);

/// The fault settings as JSON, keys as in `/_emulator/faults` (latency_ms, error_rate, ...).
/// Pure.
boost::json::object faults_to_json(const FaultSettings& faults);

/// Applies a `/_emulator/faults` JSON body to `current`: only the keys given change; numbers,
/// numeric strings and booleans are accepted. 400 (OpenAI shape, param = the key) on bad JSON,
/// unknown keys or values out of range. Pure.
ApiResult<FaultSettings> apply_faults_json(FaultSettings current, std::string_view body);

}  // namespace voicegate::emulator
