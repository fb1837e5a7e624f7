#pragma once

#include <mutex>
#include <vector>

#include "upstream/realtime_api.hpp"

namespace voicegate::test {

/// A scripted RealtimeApi: returns `next` (a secret or a failure) and records every request.
class FakeRealtimeApi final : public upstream::RealtimeApi {
public:
    boost::asio::awaitable<Result<upstream::ClientSecret>> create_client_secret(
        const upstream::ClientSecretRequest& request) override {
        std::lock_guard lock(mu_);
        requests.push_back(request);
        co_return next;
    }

    Result<upstream::ClientSecret> next =
        upstream::ClientSecret{"ek_68af296e8e408191a1120ab6383263c2", 1756310470,
                               "sess_C9CiUVUzUzYIssh3ELY1d", "gpt-realtime", "alloy"};
    std::vector<upstream::ClientSecretRequest> requests;

private:
    std::mutex mu_;
};

}  // namespace voicegate::test
