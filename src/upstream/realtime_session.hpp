#pragma once

#include <boost/json/object.hpp>

namespace voicegate::upstream {

/// The GA Realtime `session` object for session fields named as profiles name them (flat:
/// model, voice, instructions, max_output_tokens, turn_detection, transcription,
/// noise_reduction, tools, tool_choice, speed; config::Profile::fields): `type` "realtime",
/// `model`, `instructions`, `max_output_tokens`, `tools`, `tool_choice` at the top,
/// `voice` and `speed` under `audio.output`, `turn_detection`, `transcription` and
/// `noise_reduction` under `audio.input`. Fields not given are left out; other names are
/// ignored. The one mapping of both the minted session (/token, the relay) and the session the
/// supervisor locks (`session.update`). Pure.
boost::json::object realtime_session_from_fields(const boost::json::object& fields);

}  // namespace voicegate::upstream
