#include "upstream/openai_client.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <limits>
#include <random>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "core/ids.hpp"

#include <spdlog/spdlog.h>

namespace voicegate::upstream {
namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr milliseconds kMaxHonouredRetryAfter{60'000};

std::int64_t unix_now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}


milliseconds backoff_delay(int attempt, milliseconds base, milliseconds cap) {
    thread_local std::mt19937_64 gen{std::random_device{}()};
    const auto shift = std::min(attempt, 20);
    const auto ceiling = std::min<std::int64_t>(cap.count(), base.count() << shift);
    std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
    return milliseconds(pick(gen));
}

bool is_secret_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// Replaces every `ek_...` run in `text` by its redacted form.
std::string redact_client_secrets(std::string text) {
    std::size_t pos = 0;
    while ((pos = text.find("ek_", pos)) != std::string::npos) {
        std::size_t end = pos + 3;
        while (end < text.size() && is_secret_char(text[end])) {
            ++end;
        }
        const auto redacted = redact_secret(std::string_view(text).substr(pos, end - pos));
        text.replace(pos, end - pos, redacted);
        pos += redacted.size();
    }
    return text;
}

bool valid_header_value(std::string_view v) {
    return std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

// ---- OpenAiClient ---------------------------------------------------------------------------

namespace {

BaseUrl checked_base(const OpenAiOptions& o) {
    if (o.api_key.empty()) {
        throw std::invalid_argument("the OpenAI API key is empty");
    }
    if (!valid_header_value(o.api_key)) {
        // Never echo the key, not even in part.
        throw std::invalid_argument("the OpenAI API key contains invalid characters");
    }
    auto base = parse_base_url(o.base_url);
    if (!base) {
        throw std::invalid_argument("invalid upstream base URL '" +
                                    redact_url_userinfo(o.base_url) +
                                    "': " + std::string(base.error().public_message()));
    }
    if (o.total_timeout <= milliseconds::zero() || o.connect_timeout <= milliseconds::zero()) {
        throw std::invalid_argument("upstream timeouts must be positive");
    }
    return *base;
}

std::shared_ptr<HttpClient> make_http(const OpenAiOptions& o,
                                      const std::vector<asio::io_context*>& loops) {
    HttpClientOptions h;
    h.connect_timeout = o.connect_timeout;
    h.pool_size = o.pool_size;
    h.max_connections = o.max_connections;
    h.ca_file = o.ca_file;
    h.user_agent = o.user_agent;
    return std::make_shared<HttpClient>(loops, std::move(h));
}

}  // namespace

OpenAiClient::OpenAiClient(OpenAiOptions options, const std::vector<asio::io_context*>& loops)
    : opts_(std::move(options)),
      base_(checked_base(opts_)),
      http_(make_http(opts_, loops)),
      auth_header_("Bearer " + opts_.api_key) {}

OpenAiClient::OpenAiClient(OpenAiOptions options, std::shared_ptr<HttpClient> http)
    : opts_(std::move(options)),
      base_(checked_base(opts_)),
      http_(std::move(http)),
      auth_header_("Bearer " + opts_.api_key) {
    if (!http_) {
        throw std::invalid_argument("OpenAiClient needs an HttpClient");
    }
}

OpenAiClient::~OpenAiClient() = default;

namespace {

void observe_call(metrics::UpstreamMetrics* m, int status, Clock::time_point started) {
    if (m != nullptr) {
        m->call(status, std::chrono::duration<double>(Clock::now() - started).count());
    }
}

}  // namespace

Failure OpenAiClient::scrub(Failure f) const {
    // Upstream text goes to `details` (dev mode, logs): make sure it cannot carry a secret.
    std::size_t pos = 0;
    const auto masked = redact_secret(opts_.api_key);
    while ((pos = f.details.find(opts_.api_key, pos)) != std::string::npos) {
        f.details.replace(pos, opts_.api_key.size(), masked);
        pos += masked.size();
    }
    f.details = redact_client_secrets(std::move(f.details));
    return f;
}

asio::awaitable<Result<HttpResponse>> OpenAiClient::request(ApiRequest call) {
    const auto started = Clock::now();
    const auto deadline = started + opts_.total_timeout;
    HttpRequest req;
    req.method = std::move(call.method);
    req.target = base_.path + call.path;
    req.headers.reserve(call.headers.size() + 3);
    req.headers.emplace_back("Authorization", auth_header_);
    if (!call.content_type.empty()) {
        req.headers.emplace_back("Content-Type", call.content_type);
    }
    if (!call.request_id.empty() && valid_header_value(call.request_id)) {
        // OpenAI echoes this in its logs, which ties its request to ours in support cases.
        req.headers.emplace_back("X-Client-Request-Id", call.request_id);
    }
    for (auto& h : call.headers) {
        req.headers.push_back(std::move(h));
    }
    req.body = std::move(call.body);
    req.idempotent = call.idempotent;
    const std::string& op = call.operation.empty() ? req.target : call.operation;

    auto ex = co_await asio::this_coro::executor;
    std::optional<Failure> refused;  // the last "unreachable" failure, if any
    for (int attempt = 0;; ++attempt) {
        auto result = co_await http_->request(base_.origin, req, deadline);
        Failure failure;
        bool retry = false;
        int status = 0;
        std::string upstream_id = "-";
        std::optional<milliseconds> hint;
        if (result) {
            status = result->status;
            if (const auto id = result->header("x-request-id")) {
                upstream_id = std::string(*id);
            }
            const bool answered =
                (status >= 200 && status < 300) ||
                std::find(call.answer_statuses.begin(), call.answer_statuses.end(), status) !=
                    call.answer_statuses.end();
            if (answered) {
                observe_call(opts_.metrics, status, started);
                if (attempt > 0) {
                    spdlog::info(
                        "upstream {} answered after {} retries: request_id={} "
                        "upstream_request_id={}",
                        op, attempt, call.request_id, upstream_id);
                }
                co_return std::move(*result);
            }
            failure = upstream_http_failure(*result, unix_now_s());
            if (opts_.metrics != nullptr) {
                opts_.metrics->attempt_failed(status == 429   ? "http_429"
                                              : status >= 500 ? "http_5xx"
                                                              : "http_4xx");
            }
            retry = should_retry_status(*result);
            hint = retry_after_hint(*result, unix_now_s());
        } else {
            failure = result.error().to_failure();
            if (opts_.metrics != nullptr) {
                opts_.metrics->attempt_failed(kind_name(result.error().kind));
            }
            // A request that creates something is retried only if it cannot have arrived whole.
            retry = result.error().retryable() && (call.idempotent || !result.error().sent);
        }
        failure = scrub(std::move(failure));
        if (failure.code == Error::upstream_unavailable) {
            refused = failure;
        } else if (failure.code == Error::upstream_timeout && refused) {
            // A retry after a refused or reset connection that ran into the deadline: the
            // upstream is unreachable rather than slow, so answer 503 (SPEC §3.2), not 504.
            failure = *refused;
        }

        if (retry && attempt < opts_.max_retries) {
            const auto delay =
                hint && *hint <= kMaxHonouredRetryAfter
                    ? *hint
                    : backoff_delay(attempt, opts_.retry_base_delay, opts_.retry_max_delay);
            // Never sleep past the deadline: a retry that cannot start in time is pointless.
            if (Clock::now() + delay < deadline) {
                spdlog::debug(
                    "upstream {} attempt {} failed ({}), retrying in {} ms: "
                    "request_id={} upstream_request_id={} status={}",
                    op, attempt + 1, failure.details, delay.count(), call.request_id, upstream_id,
                    status);
                if (opts_.metrics != nullptr) {
                    opts_.metrics->retry();
                }
                asio::steady_timer timer(ex);
                timer.expires_after(delay);
                co_await timer.async_wait(kUseTuple);
                continue;
            }
        }

        if (failure.code == Error::upstream_unavailable && failure.retry_after_s < 0) {
            failure.retry_after_s = opts_.unavailable_retry_after_s;
        }
        observe_call(opts_.metrics, status, started);
        const auto elapsed =
            std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
        const bool config_problem = status == 401 || status == 403;
        spdlog::log(config_problem ? spdlog::level::err : spdlog::level::warn,
                    "upstream {} failed: code={} status={} attempts={} elapsed_ms={} "
                    "request_id={} upstream_request_id={} details={}{}",
                    op, error_info(failure.code).code, status, attempt + 1, elapsed,
                    call.request_id, upstream_id, failure.details,
                    config_problem ? " (check OPENAI_API_KEY and the project's model access)" : "");
        co_return failure;
    }
}

asio::awaitable<Result<ClientSecret>> OpenAiClient::create_client_secret(
    const ClientSecretRequest& request) {
    json::object body;
    body["expires_after"] =
        json::object{{"anchor", "created_at"}, {"seconds", request.ttl_seconds}};
    body["session"] = request.session;
    std::string requested_model;
    if (const auto* m = request.session.if_contains("model"); m != nullptr && m->is_string()) {
        requested_model = std::string(m->get_string());
    }

    ApiRequest call;
    call.method = "POST";
    call.path = "/realtime/client_secrets";
    call.body = json::serialize(body);
    call.request_id = request.request_id;
    call.operation = "client_secrets";
    call.headers.emplace_back("Accept", "application/json");
    auto response = co_await this->request(std::move(call));
    if (!response) {
        co_return response.error();
    }
    auto secret = parse_client_secret(response->body, requested_model);
    if (!secret) {
        if (opts_.metrics != nullptr) {
            opts_.metrics->attempt_failed("bad_response");
        }
        const auto id = response->header("x-request-id");
        spdlog::warn(
            "upstream client_secrets answered garbage: status={} request_id={} "
            "upstream_request_id={} details={}",
            response->status, request.request_id, id ? *id : "-", secret.error().details);
        co_return scrub(secret.error());
    }
    spdlog::debug("upstream client_secrets ok: request_id={} session_id={} token={}",
                  request.request_id, secret->session_id, redact_secret(secret->value));
    co_return secret;
}

namespace {

// A boundary that occurs in neither part (with 24 random base62 characters it never does).
std::string form_boundary(std::string_view sdp, std::string_view session) {
    for (;;) {
        auto b = random_id("voicegate-", 24);
        if (sdp.find(b) == std::string_view::npos && session.find(b) == std::string_view::npos) {
            return b;
        }
    }
}

}  // namespace

asio::awaitable<Result<CallAnswer>> OpenAiClient::create_call(const CallRequest& request) {
    const auto session = json::serialize(request.session);
    const auto boundary = form_boundary(request.sdp, session);
    ApiRequest call;
    call.method = "POST";
    call.path = "/realtime/calls";
    call.content_type = "multipart/form-data; boundary=" + boundary;
    call.body = call_form_body(boundary, request.sdp, session);
    call.request_id = request.request_id;
    call.operation = "calls";
    call.idempotent = false;
    call.headers.emplace_back("Accept", "application/sdp");
    if (!request.safety_identifier.empty() && valid_header_value(request.safety_identifier)) {
        call.headers.emplace_back("OpenAI-Safety-Identifier", request.safety_identifier);
    }
    auto response = co_await this->request(std::move(call));
    if (!response) {
        co_return response.error();
    }
    auto answer = parse_call_answer(*response);
    if (!answer) {
        if (opts_.metrics != nullptr) {
            opts_.metrics->attempt_failed("bad_response");
        }
        const auto id = response->header("x-request-id");
        spdlog::warn(
            "upstream calls answered garbage: status={} request_id={} upstream_request_id={} "
            "details={}",
            response->status, request.request_id, id ? *id : "-", answer.error().details);
        if (const auto location = response->header("location")) {
            // The upstream did create a call that nobody will use: end it rather than leave it
            // waiting for a peer.
            if (auto call_id = call_id_from_location(*location)) {
                (void)co_await hangup(std::move(*call_id), request.request_id);
            }
        }
        co_return scrub(answer.error());
    }
    spdlog::debug("upstream calls ok: request_id={} answer_bytes={}", request.request_id,
                  answer->sdp.size());
    co_return answer;
}

asio::awaitable<Result<void>> OpenAiClient::hangup(std::string call_id, std::string request_id) {
    if (!valid_call_id(call_id)) {
        co_return fail(Error::call_gone, {}, "not a valid call id");
    }
    ApiRequest call;
    call.method = "POST";
    call.path = "/realtime/calls/" + call_id + "/hangup";
    call.content_type.clear();
    call.request_id = std::move(request_id);
    call.operation = "hangup";
    call.answer_statuses = {404};
    auto response = co_await this->request(std::move(call));
    if (!response) {
        co_return response.error();
    }
    if (response->status == 404) {
        co_return fail(Error::call_gone, {}, "upstream: no such call (already ended)");
    }
    co_return Result<void>{};
}

}  // namespace voicegate::upstream
