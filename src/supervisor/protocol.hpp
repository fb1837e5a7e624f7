#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/prices.hpp"

namespace voicegate::supervisor {

// The provider side of supervising a call (SPEC §7.3, §7.5), without I/O: what to send on the
// sideband to lock a session, what the upstream's event text means, how a session it reports
// compares with the locks. One implementation per voice API (OpenAI Realtime now, GPT-Live's
// `/v1/live/sessions/{id}/attach` next).

/// One sideband event, parsed and validated. Only the members of its kind are set.
struct SidebandEvent {
    enum class Kind {
        session_updated,      // the effective session (`session`)
        usage,                // model usage of one response (`tokens`, `response_id`)
        transcription_usage,  // input transcription, billed apart (tokens or seconds)
        expired,              // the upstream's own cap ended the session (session_expired)
        error,                // another error event (`error_code`)
        closed,               // the upstream reports the session over (GPT-Live session.closed)
        ignored,              // a well-formed event the supervisor has no use for
        malformed,            // not JSON, no type, or a field of the wrong shape (`problem`)
    };
    Kind kind = Kind::ignored;
    std::string type;  // the event's `type` (at most 64 bytes; empty when absent)
    boost::json::object session;
    TokenUsage tokens;
    /// True when `tokens` (or the transcription figures) are the call's running totals so far
    /// rather than one response's (GPT-Live's session.usage.updated); Realtime's are per response.
    bool cumulative = false;
    std::string response_id;  // the response.done's id, to count a response once
    std::int64_t transcription_in_tokens = 0;
    std::int64_t transcription_out_tokens = 0;
    double transcription_seconds = 0;
    std::string error_code;  // error events: the code (at most 64 bytes), never the message
    std::string problem;     // malformed: what was wrong, naming the field, never its value
};

/// A field whose value in the upstream's session differs from the locked one: its path
/// ("audio.output.voice", "tools[1].name"). Values are not kept: they may be prompts.
using Violations = std::vector<std::string>;

/// The session fields a call must keep, named as profiles name them (config::Profile::fields:
/// model, voice, instructions, max_output_tokens, turn_detection, ...): the profile's fields the
/// client may not override plus the call's model. `allow_override` holds client field names
/// (voice, instructions, maxOutputTokens; model is locked regardless). Pure.
boost::json::object locked_fields(const boost::json::object& profile_fields,
                                  const std::vector<std::string>& allow_override,
                                  std::string_view model);

/// The paths under `locked` whose value `actual` does not match, compared deeply but only on
/// the locked fields: objects match when every locked member matches (members the upstream adds
/// are ignored), arrays element by element with the same length, numbers by value (1 == 1.0),
/// the rest exactly. A locked field missing from `actual` is a violation unless it is null.
/// Pure.
Violations compare_locked(const boost::json::object& locked, const boost::json::object& actual);

/// A voice API's sideband protocol. Implementations are immutable: thread-safe.
class CallProtocol {
public:
    virtual ~CallProtocol() = default;
    /// The provider's name for logs and metrics ("openai_realtime").
    virtual std::string_view name() const = 0;
    /// The sideband's request target for `call_id` under the base URL's path `base_path`
    /// ("/v1"), query included, the id percent-encoded. Pure.
    virtual std::string sideband_target(std::string_view base_path,
                                        std::string_view call_id) const = 0;
    /// The event text that sets the locked fields (`locked_fields()` output). Pure.
    virtual std::string lock_message(const boost::json::object& locked) const = 0;
    /// Parses one text message of the sideband. Never throws: anything unexpected is
    /// `malformed`. Pure.
    virtual SidebandEvent parse(std::string_view text) const = 0;
    /// The locked fields the upstream's `session` does not hold. Pure.
    virtual Violations violations(const boost::json::object& locked,
                                  const boost::json::object& session) const = 0;
    /// Whether a close of the sideband with `code` means the upstream ended the session at its
    /// own cap (Realtime: 1001 "Your session hit the maximum duration"). Pure.
    virtual bool expiry_close(int code) const = 0;
};

/// OpenAI Realtime (GA) over `{base}/realtime?call_id=` (reference openai-call-control.md §2,
/// §4): `session.update` carries the locked fields in the GA shape
/// (upstream/realtime_session.hpp); events: `session.updated`, `response.done` usage (cached a
/// subset of input; `reasoning_tokens` already inside output text, not added again),
/// `conversation.item.input_audio_transcription.completed` usage (`tokens` or `duration`),
/// `error` (`session_expired`: the 60-minute cap). Thread-safe (stateless).
class OpenAiRealtimeProtocol final : public CallProtocol {
public:
    std::string_view name() const override { return "openai_realtime"; }
    std::string sideband_target(std::string_view base_path,
                                std::string_view call_id) const override;
    std::string lock_message(const boost::json::object& locked) const override;
    SidebandEvent parse(std::string_view text) const override;
    Violations violations(const boost::json::object& locked,
                          const boost::json::object& session) const override;
    bool expiry_close(int code) const override { return code == 1001; }
};

}  // namespace voicegate::supervisor
