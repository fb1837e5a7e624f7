#include "api/call_recorder.hpp"

#include "store/event_type.hpp"

namespace voicegate::api {

Result<bool> MemoryCallRecorder::remember(const store::AttachRequest& request) {
    std::lock_guard lock(mu_);
    const auto [it, inserted] = calls_.emplace(request.session_id, request);
    if (inserted) {
        return true;
    }
    if (it->second.call_id != request.call_id) {
        return fail(Error::conflict, "This session is already attached to another call.");
    }
    return false;
}

boost::asio::awaitable<Result<void>> MemoryCallRecorder::audit(const store::AttachRequest& request,
                                                               const char* type) {
    store::Event e;
    e.at_ms = request.at_ms;
    e.type = type;
    e.session_id = request.session_id;
    e.user_id = request.caller_user_id;
    e.client_ip = request.client_ip;
    e.detail = "{\"capMs\":" + std::to_string(request.cap_ms) + "}";  // never the call id
    co_return co_await sessions_.append_event(std::move(e));
}

boost::asio::awaitable<Result<void>> MemoryCallRecorder::record_call(store::AttachRequest request) {
    auto recorded = remember(request);
    if (!recorded) {
        co_return recorded.error();
    }
    auto written = co_await audit(request, store::event_type_name(store::EventType::call_relayed));
    if (!written && *recorded) {
        forget(request.session_id);
    }
    co_return written;
}

boost::asio::awaitable<Result<store::AttachOutcome>> MemoryCallRecorder::attach(
    store::AttachRequest request) {
    auto row = co_await sessions_.get_session(request.session_id);
    if (!row) {
        co_return row.error();
    }
    if (!*row) {
        co_return fail(Error::session_not_found);
    }
    if ((*row)->issued.user_id != request.caller_user_id) {
        co_return fail(Error::forbidden, "This session belongs to another user.");
    }
    if ((*row)->status == "ended" && call_of(request.session_id) != request.call_id) {
        co_return fail(Error::conflict, "This session has ended.");
    }
    auto recorded = remember(request);
    if (!recorded) {
        co_return recorded.error();
    }
    if (!*recorded) {
        co_return store::AttachOutcome{false};  // the same call again: nothing to do
    }
    auto written = co_await audit(request, store::event_type_name(store::EventType::call_attached));
    if (!written) {
        forget(request.session_id);
        co_return written.error();
    }
    co_return store::AttachOutcome{true};
}

void MemoryCallRecorder::forget(const std::string& session_id) {
    std::lock_guard lock(mu_);
    calls_.erase(session_id);
}

std::string MemoryCallRecorder::call_of(const std::string& session_id) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(session_id);
    return it == calls_.end() ? std::string() : it->second.call_id;
}

std::size_t MemoryCallRecorder::size() const {
    std::lock_guard lock(mu_);
    return calls_.size();
}

}  // namespace voicegate::api
