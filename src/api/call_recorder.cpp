#include "api/call_recorder.hpp"

namespace voicegate::api {

boost::asio::awaitable<Result<void>> StoreCallRecorder::record_call(store::AttachRequest request) {
    request.relayed = true;
    auto outcome = co_await store_.attach_call(std::move(request));
    if (!outcome) {
        co_return outcome.error();
    }
    if (outcome->newly_attached && on_recorded_) {
        on_recorded_();
    }
    co_return Result<void>{};
}

boost::asio::awaitable<Result<store::AttachOutcome>> StoreCallRecorder::attach(
    store::AttachRequest request) {
    request.relayed = false;
    auto outcome = co_await store_.attach_call(std::move(request));
    if (outcome && outcome->newly_attached && on_recorded_) {
        on_recorded_();
    }
    co_return outcome;
}

}  // namespace voicegate::api
