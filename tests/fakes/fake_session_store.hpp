#pragma once

#include <map>
#include <mutex>

#include "store/session_store.hpp"

namespace voicegate::test {

/// An in-memory SessionStore for handler unit tests (the real stores have their own suite).
class FakeSessionStore final : public store::SessionStore {
public:
    boost::asio::awaitable<Result<void>> create_session(store::SessionRecord record) override {
        std::lock_guard lock(mu_);
        if (fail_writes) {
            co_return fail(Error::store_unavailable, {}, "fake: writes fail");
        }
        if (refuse_creates) {
            co_return *refuse_creates;
        }
        store::SessionRow row;
        row.issued = record;
        row.status = "issued";
        rows[record.session_id] = row;
        co_return Result<void>{};
    }
    boost::asio::awaitable<Result<store::EndOutcome>> end_session(
        store::EndRequest request) override {
        std::lock_guard lock(mu_);
        auto it = rows.find(request.session_id);
        if (it == rows.end()) {
            co_return fail(Error::session_not_found);
        }
        if (request.check_owner && it->second.issued.user_id != request.caller_user_id) {
            co_return fail(Error::forbidden);
        }
        if (it->second.status == "ended") {
            co_return store::EndOutcome{it->second, true};
        }
        auto& row = it->second;
        row.status = "ended";
        row.ended_at_ms = request.ended_at_ms;
        row.reported_duration_s = request.reported_duration_s;
        row.observed_duration_s = (request.ended_at_ms - row.issued.issued_at_ms) / 1000.0;
        row.message_count = request.message_count;
        row.ended_by = request.ended_by;
        ++ends;
        co_return store::EndOutcome{row, false};
    }
    boost::asio::awaitable<Result<void>> append_event(store::Event event) override {
        std::lock_guard lock(mu_);
        events.push_back(event);
        co_return Result<void>{};
    }
    /// Keeps every denial as a token_denied event (the real stores sample; see their suite).
    void record_denial(const store::Denial& denial) override {
        std::lock_guard lock(mu_);
        store::Event e;
        e.at_ms = denial.at_ms;
        e.type = "token_denied";
        e.user_id = denial.user_id;
        e.client_ip = denial.client_ip;
        e.reason = denial.reason;
        events.push_back(std::move(e));
        ++denials;
    }
    boost::asio::awaitable<Result<void>> flush_denials() override { co_return Result<void>{}; }
    boost::asio::awaitable<Result<store::PruneReport>> prune(store::PruneRequest) override {
        co_return store::PruneReport{};
    }
    boost::asio::awaitable<Result<std::optional<store::SessionRow>>> get_session(
        std::string session_id) override {
        std::lock_guard lock(mu_);
        auto it = rows.find(session_id);
        if (it == rows.end()) {
            co_return std::optional<store::SessionRow>{};
        }
        co_return std::optional<store::SessionRow>{it->second};
    }
    boost::asio::awaitable<Result<store::UsageReport>> usage(store::UsageQuery query) override {
        std::lock_guard lock(mu_);
        usage_queries.push_back(query);
        co_return usage_report;
    }
    boost::asio::awaitable<Result<store::LiveReport>> live(store::LiveQuery) override {
        co_return store::LiveReport{};
    }
    boost::asio::awaitable<Result<store::SessionPage>> list_sessions(
        store::SessionQuery query) override {
        std::lock_guard lock(mu_);
        store::SessionPage page;
        for (const auto& [id, row] : rows) {
            if (query.user_id.empty() || row.issued.user_id == query.user_id) {
                page.sessions.push_back(row);
            }
        }
        co_return page;
    }
    boost::asio::awaitable<Result<store::EventPage>> list_events(store::EventQuery) override {
        std::lock_guard lock(mu_);
        co_return store::EventPage{events, std::nullopt};
    }
    boost::asio::awaitable<Result<store::RebuildReport>> rebuild_rollups() override {
        co_return store::RebuildReport{};
    }
    bool ready() const override { return !fail_writes; }
    void close() override {}

    // Supervised calls are not faked here: the real stores have their suite
    // (tests/unit/store/call_supervision_test.cpp); these answer "not supported".
    boost::asio::awaitable<Result<store::AttachOutcome>> attach_call(
        store::AttachRequest) override {
        co_return unsupported();
    }
    boost::asio::awaitable<Result<std::vector<store::SupervisedCall>>> claim_calls(
        store::LeaseClaim) override {
        co_return std::vector<store::SupervisedCall>{};
    }
    boost::asio::awaitable<Result<std::vector<std::string>>> renew_leases(
        store::LeaseClaim, std::vector<std::string>) override {
        co_return std::vector<std::string>{};
    }
    boost::asio::awaitable<Result<void>> release_lease(std::string, std::string) override {
        co_return Result<void>{};
    }
    boost::asio::awaitable<Result<void>> checkpoint_usage(store::UsageCheckpoint) override {
        co_return unsupported();
    }
    boost::asio::awaitable<Result<void>> end_call(store::CallEnded) override {
        co_return unsupported();
    }
    boost::asio::awaitable<Result<store::UserMinutes>> user_minutes(std::string,
                                                                    std::int64_t) override {
        co_return store::UserMinutes{};
    }

    std::map<std::string, store::SessionRow> rows;
    std::vector<store::Event> events;
    std::vector<store::UsageQuery> usage_queries;
    store::UsageReport usage_report;  // what usage() answers
    int ends = 0;
    int denials = 0;
    bool fail_writes = false;
    std::optional<Failure> refuse_creates;  // e.g. a quota refusal, as the real stores decide

private:
    static Failure unsupported() {
        return fail(Error::internal, {}, "fake: supervised calls are not faked");
    }
    std::mutex mu_;
};

}  // namespace voicegate::test
