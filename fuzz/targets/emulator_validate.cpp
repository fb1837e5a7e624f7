// The emulator's request validation (src/emulator/validate.hpp), as the emulator's
// /v1/realtime/client_secrets handler runs it: the Content-Type check, parse_client_secret_body
// on the raw body, then effective_session on a valid session; and the admin fault settings
// body (apply_faults_json). Input: a mode byte, then the body.
//   mode % 4 == 3: the body is a faults document for apply_faults_json
//   otherwise: a client_secrets body; mode & 4 sends a Content-Type taken from the body's
//              first line (the rest is the body)
#include <cstdint>
#include <optional>

#include "emulator/options.hpp"
#include "emulator/validate.hpp"
#include "targets/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace voicegate;
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    if (mode % 4 == 3) {
        auto faults = emulator::apply_faults_json(emulator::FaultSettings{}, text);
        if (faults) {
            (void)emulator::faults_to_json(*faults);
        } else {
            (void)emulator::error_body(faults.error());
        }
        return 0;
    }
    std::optional<std::string_view> content_type;
    if ((mode & 4) != 0) {
        const auto nl = text.find('\n');
        content_type = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
    if (auto err = emulator::check_json_content_type(content_type)) {
        (void)emulator::error_body(*err);
        return 0;
    }
    auto params = emulator::parse_client_secret_body(text);
    if (!params) {
        (void)emulator::error_body(params.error());
        return 0;
    }
    (void)emulator::effective_session(params->session, "sess_fuzz");
    return 0;
}
