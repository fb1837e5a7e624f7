#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "upstream/realtime_api.hpp"

namespace voicegate::test {

/// A scripted RealtimeApi: returns `next` / `next_call` / `next_hangup` (a value or a failure)
/// and records every request.
class FakeRealtimeApi final : public upstream::RealtimeApi {
public:
    boost::asio::awaitable<Result<upstream::ClientSecret>> create_client_secret(
        const upstream::ClientSecretRequest& request) override {
        std::lock_guard lock(mu_);
        requests.push_back(request);
        co_return next;
    }

    boost::asio::awaitable<Result<upstream::CallAnswer>> create_call(
        const upstream::CallRequest& request) override {
        std::lock_guard lock(mu_);
        call_requests.push_back(request);
        co_return next_call;
    }

    boost::asio::awaitable<Result<void>> hangup(std::string call_id,
                                                std::string /*request_id*/) override {
        std::lock_guard lock(mu_);
        hangups.push_back(std::move(call_id));
        co_return next_hangup;
    }

    Result<upstream::ClientSecret> next =
        upstream::ClientSecret{"ek_68af296e8e408191a1120ab6383263c2", 1756310470,
                               "sess_C9CiUVUzUzYIssh3ELY1d", "gpt-realtime", "alloy"};
    std::vector<upstream::ClientSecretRequest> requests;

    Result<upstream::CallAnswer> next_call =
        upstream::CallAnswer{"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n", "rtc_fake0123456789"};
    std::vector<upstream::CallRequest> call_requests;
    Result<void> next_hangup = Result<void>{};
    std::vector<std::string> hangups;

private:
    std::mutex mu_;
};

}  // namespace voicegate::test
