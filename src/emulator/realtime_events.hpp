#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "emulator/options.hpp"
#include "emulator/validate.hpp"

// The Realtime server events the emulator's sideband sends, and the session merge of
// `session.update` (reference openai-call-control.md §2, §4, §10). Pure, thread-safe: event ids
// come from the CSPRNG of core/ids.hpp, nothing else varies.

namespace voicegate::emulator {

/// The session id the sideband reports for call `call_id`: "sess_" + the call id without its
/// "rtc_" prefix (rtc_u0_X -> sess_u0_X), as OpenAI's are. Pure.
std::string call_session_id(std::string_view call_id);

/// `session.update`'s partial merge of `update` (the event's `session`) into `current`, a
/// session as a validated request object (effective_session() gives what the API shows): the
/// fields given replace the current ones, objects merge key by key (an object whose `type`
/// changes, e.g. turn_detection, is replaced whole), null clears. The result is validated as a
/// session; `type` may be left out; a different `model` or `type` is refused (codes
/// `cannot_update_model` / `cannot_update_type`, wording UNCONFIRMED). Returns the merged
/// request object. Pure.
ApiResult<boost::json::object> merge_session_update(const boost::json::object& current,
                                                    const boost::json::value& update);

/// `{"type":type,"event_id":"event_...","session":session}` (session.created / .updated). Pure.
boost::json::object session_event(std::string_view type, const boost::json::object& session);

/// An `error` event for `e`, carrying the client's `event_id` (null when empty). Pure.
boost::json::object error_event(const ApiError& e, std::string_view client_event_id = {});

/// The `session_expired` error sent at the duration cap (OpenAI's wording, 60 minutes). Pure.
ApiError session_expired_error();

/// `response.done.response.usage` for `u` (totals computed). Pure.
boost::json::object response_usage_json(const ResponseUsage& u);

/// The `usage` of an input-audio transcription: `{type:"tokens",...}` or
/// `{type:"duration",seconds}`. Pure.
boost::json::object transcription_usage_json(const TranscriptionUsage& u);

/// The sideband events of scripted turn number `turn` (1-based): the user's item added/done, its
/// transcription (with usage), response.created (usage null), the assistant item, transcript
/// deltas/done (never audio deltas), output_audio_buffer.started/stopped, response.done (with
/// `usage`), rate_limits.updated. In sending order. Pure.
std::vector<boost::json::object> scripted_turn(const SidebandSettings& settings, int turn);

}  // namespace voicegate::emulator
