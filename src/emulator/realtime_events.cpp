#include "emulator/realtime_events.hpp"

#include <boost/json.hpp>

#include "core/ids.hpp"

namespace voicegate::emulator {
namespace json = boost::json;

namespace {

std::string event_id() {
    return random_id("event_", 22);
}

json::object event(std::string_view type) {
    return json::object{{"type", type}, {"event_id", event_id()}};
}

ApiError update_error(std::string message, std::string param, std::string code) {
    ApiError e;
    e.message = std::move(message);
    e.param = std::move(param);
    e.code = std::move(code);
    return e;
}

// Merges `from` into `into`: objects key by key (unless their `type` differs), the rest replaced.
void merge_into(json::object& into, const json::object& from) {
    for (const auto& kv : from) {
        const auto key = kv.key();
        const json::value& value = kv.value();
        auto* current = into.if_contains(key);
        if (current != nullptr && current->is_object() && value.is_object()) {
            const auto& now = current->get_object();
            const auto& next = value.get_object();
            const auto* t_now = now.if_contains("type");
            const auto* t_next = next.if_contains("type");
            if (t_now == nullptr || t_next == nullptr || *t_now == *t_next) {
                merge_into(current->get_object(), next);
                continue;
            }
        }
        into[key] = value;
    }
}

json::object message_item(std::string_view id, std::string_view role, std::string_view status,
                          json::array content) {
    return json::object{{"id", id},
                        {"type", "message"},
                        {"status", status},
                        {"role", role},
                        {"content", std::move(content)}};
}

json::object response_object(std::string_view id, std::string_view status, json::array output,
                             json::value usage) {
    return json::object{
        {"object", "realtime.response"},
        {"id", id},
        {"status", status},
        {"status_details", nullptr},
        {"output", std::move(output)},
        {"conversation_id", "conv_emulated"},
        {"output_modalities", json::array{"audio"}},
        {"max_output_tokens", "inf"},
        {"audio",
         json::object{{"output", json::object{{"format", json::object{{"type", "audio/pcm"},
                                                                      {"rate", 24000}}},
                                              {"voice", "alloy"}}}}},
        {"usage", std::move(usage)},
        {"metadata", nullptr},
    };
}

// The user's spoken item and its transcription.
void user_part(std::vector<json::object>& out, const TranscriptionUsage& usage, int turn) {
    const std::string item_id = random_id("item_", 22);
    const std::string transcript = "This is scripted question number " + std::to_string(turn) + ".";
    json::object added = event("conversation.item.added");
    added["previous_item_id"] = nullptr;
    added["item"] =
        message_item(item_id, "user", "completed",
                     json::array{json::object{{"type", "input_audio"}, {"transcript", nullptr}}});
    json::object done = added;
    done["type"] = "conversation.item.done";
    done["event_id"] = event_id();
    out.push_back(std::move(added));
    out.push_back(std::move(done));
    json::object tr = event("conversation.item.input_audio_transcription.completed");
    tr["item_id"] = item_id;
    tr["content_index"] = 0;
    tr["transcript"] = transcript;
    tr["usage"] = transcription_usage_json(usage);
    out.push_back(std::move(tr));
}

}  // namespace

std::string call_session_id(std::string_view call_id) {
    if (call_id.starts_with("rtc_")) {
        call_id.remove_prefix(4);
    }
    return "sess_" + std::string(call_id);
}

ApiResult<json::object> merge_session_update(const json::object& current,
                                             const json::value& update) {
    if (!update.is_object()) {
        return update_error("Invalid type for 'session': expected an object.", "session",
                            "invalid_type");
    }
    json::object given = update.get_object();
    const json::value current_type =
        current.contains("type") ? current.at("type") : json::value("realtime");
    if (const auto* t = given.if_contains("type"); t != nullptr && *t != current_type) {
        return update_error("Cannot update a session's type.", "session.type",
                            "cannot_update_type");
    }
    if (const auto* m = given.if_contains("model"); m != nullptr && !m->is_null()) {
        const auto* now = current.if_contains("model");
        const json::value current_model =
            now != nullptr && !now->is_null() ? *now : json::value(json::string(kDefaultModel));
        if (*m != current_model) {
            return update_error("Cannot update a session's model.", "session.model",
                                "cannot_update_model");
        }
    }
    json::object merged = current;
    merged["type"] = current_type;
    merge_into(merged, given);
    if (auto checked = validate_session(merged, "session"); !checked) {
        return checked.error();
    }
    return merged;
}

json::object session_event(std::string_view type, const json::object& session) {
    json::object e = event(type);
    e["session"] = session;
    return e;
}

json::object error_event(const ApiError& e, std::string_view client_event_id) {
    auto or_null = [](std::string_view s) {
        return s.empty() ? json::value(nullptr) : json::value(json::string(s));
    };
    json::object err;
    err["type"] = json::string(e.type);
    err["code"] = or_null(e.code);
    err["message"] = json::string(e.message);
    err["param"] = or_null(e.param);
    err["event_id"] = or_null(client_event_id);
    json::object out = event("error");
    out["error"] = std::move(err);
    return out;
}

ApiError session_expired_error() {
    ApiError e;
    e.message = "Your session hit the maximum duration of 60 minutes.";
    e.code = "session_expired";
    return e;
}

json::object response_usage_json(const ResponseUsage& u) {
    const std::int64_t input = u.input_text + u.input_audio + u.input_image;
    const std::int64_t output = u.output_text + u.output_audio;
    return json::object{
        {"total_tokens", input + output},
        {"input_tokens", input},
        {"output_tokens", output},
        {"input_token_details",
         json::object{{"text_tokens", u.input_text},
                      {"audio_tokens", u.input_audio},
                      {"image_tokens", u.input_image},
                      {"cached_tokens", u.cached_text + u.cached_audio + u.cached_image},
                      {"cached_tokens_details", json::object{{"text_tokens", u.cached_text},
                                                             {"audio_tokens", u.cached_audio},
                                                             {"image_tokens", u.cached_image}}}}},
        {"output_token_details",
         json::object{{"text_tokens", u.output_text}, {"audio_tokens", u.output_audio}}},
    };
}

json::object transcription_usage_json(const TranscriptionUsage& u) {
    if (u.duration) {
        return json::object{{"type", "duration"}, {"seconds", u.seconds}};
    }
    const std::int64_t input = u.input_text + u.input_audio;
    return json::object{
        {"type", "tokens"},
        {"total_tokens", input + u.output},
        {"input_tokens", input},
        {"input_token_details",
         json::object{{"text_tokens", u.input_text}, {"audio_tokens", u.input_audio}}},
        {"output_tokens", u.output},
    };
}

std::vector<json::object> scripted_turn(const SidebandSettings& settings, int turn) {
    std::vector<json::object> out;
    user_part(out, settings.transcription_usage, turn);
    const std::string response_id = random_id("resp_", 22);
    const std::string item_id = random_id("item_", 22);
    const std::string transcript = "This is scripted answer number " + std::to_string(turn) + ".";

    json::object created = event("response.created");
    created["response"] = response_object(response_id, "in_progress", {}, nullptr);
    out.push_back(std::move(created));
    json::object added = event("conversation.item.added");
    added["previous_item_id"] = nullptr;
    added["item"] = message_item(item_id, "assistant", "in_progress", {});
    out.push_back(std::move(added));
    json::object started = event("output_audio_buffer.started");
    started["response_id"] = response_id;
    out.push_back(std::move(started));
    auto transcript_event = [&](std::string_view type) {
        json::object e = event(type);
        e["response_id"] = response_id;
        e["item_id"] = item_id;
        e["output_index"] = 0;
        e["content_index"] = 0;
        return e;
    };
    for (const std::string_view piece : {"This is scripted answer ", "number ", ""}) {
        json::object delta = transcript_event("response.output_audio_transcript.delta");
        delta["delta"] = piece.empty() ? std::to_string(turn) + "." : std::string(piece);
        out.push_back(std::move(delta));
    }
    json::object tdone = transcript_event("response.output_audio_transcript.done");
    tdone["transcript"] = transcript;
    out.push_back(std::move(tdone));
    const json::object item = message_item(
        item_id, "assistant", "completed",
        json::array{json::object{{"type", "output_audio"}, {"transcript", transcript}}});
    json::object idone = event("conversation.item.done");
    idone["previous_item_id"] = nullptr;
    idone["item"] = item;
    out.push_back(std::move(idone));
    json::object done = event("response.done");
    done["response"] = response_object(response_id, "completed", json::array{item},
                                       response_usage_json(settings.response_usage));
    out.push_back(std::move(done));
    const auto& u = settings.response_usage;
    const std::int64_t used =
        u.input_text + u.input_audio + u.input_image + u.output_text + u.output_audio;
    json::object limits = event("rate_limits.updated");
    limits["rate_limits"] = json::array{
        json::object{
            {"name", "requests"}, {"limit", 5000}, {"remaining", 4999}, {"reset_seconds", 0.012}},
        json::object{{"name", "tokens"},
                     {"limit", 15'000'000},
                     {"remaining", 15'000'000 - used},
                     {"reset_seconds", 0.002}},
    };
    out.push_back(std::move(limits));
    json::object stopped = event("output_audio_buffer.stopped");
    stopped["response_id"] = response_id;
    out.push_back(std::move(stopped));
    return out;
}

}  // namespace voicegate::emulator
