// What OpenAI answers to POST /realtime/client_secrets (src/upstream/upstream_reply.hpp): the
// 200 body (parse_client_secret), error bodies and statuses (upstream_http_failure), retry
// hints (retry_after_hint, should_retry_status, is_insufficient_quota). Input: a mode byte,
// then an HTTP answer "STATUS\nname: value\n...\n\nBODY" (header names as the client stores
// them, lowercase). mode & 1: the request named no model (session.model must be in the answer).
#include <cstdint>
#include <string>

#include "targets/fuzz_input.hpp"
#include "upstream/upstream_reply.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace voicegate;
    auto text = fuzz::as_text(data, size);
    const auto mode = fuzz::take_byte(text);
    upstream::HttpResponse r;
    const auto head_end = text.find("\n\n");
    const auto head = text.substr(0, head_end);
    r.body =
        head_end == std::string_view::npos ? std::string() : std::string(text.substr(head_end + 2));
    const auto lines = fuzz::split(head, '\n');
    for (const char c : lines.front().substr(0, 3)) {
        if (c < '0' || c > '9') {
            break;
        }
        r.status = r.status * 10 + (c - '0');
    }
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto colon = lines[i].find(':');
        if (colon != std::string_view::npos) {
            auto value = lines[i].substr(colon + 1);
            if (!value.empty() && value.front() == ' ') {
                value.remove_prefix(1);
            }
            r.headers.emplace_back(std::string(lines[i].substr(0, colon)), std::string(value));
        }
    }
    constexpr std::int64_t kNow = 1'700'000'000;
    if (r.status >= 200 && r.status < 300) {
        auto secret = upstream::parse_client_secret(r.body, (mode & 1) != 0 ? "" : "gpt-realtime");
        if (secret && (secret->value.empty() || secret->session_id.empty() ||
                       secret->model.empty() || secret->expires_at <= 0)) {
            __builtin_trap();  // a parsed secret has every field it promises
        }
    } else {
        const auto f = upstream::upstream_http_failure(r, kNow);
        (void)f.public_message();
    }
    (void)upstream::retry_after_hint(r, kNow);
    (void)upstream::should_retry_status(r);
    (void)upstream::is_insufficient_quota(r);
    return 0;
}
