#include "store/pg_batch_plan.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "store/pg_statements.hpp"
#include "store/quota.hpp"

namespace voicegate::store::detail {
namespace {

/// `keys` sorted, each once.
std::vector<std::string> sorted_distinct(std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

}  // namespace

std::vector<std::string> lock_keys(const PgBatch& batch) {
    std::vector<std::string> keys;
    for (const auto& op : batch) {
        if (op->statement() == PgStatement::end_session && !op->session_key().empty()) {
            keys.push_back(op->session_key());
        }
    }
    keys = sorted_distinct(std::move(keys));
    if (keys.size() < 2) {
        keys.clear();  // one row needs no up-front lock: its statement locks it
    }
    return keys;
}

std::vector<std::string> user_lock_keys(const PgBatch& batch) {
    std::vector<std::string> keys;
    for (const auto& op : batch) {
        if (!op->user_key().empty()) {
            keys.push_back(op->user_key());
        }
    }
    return sorted_distinct(std::move(keys));
}

std::vector<Planned> plan(const PgBatch& batch) {
    // create_quota has no batched form: one statement per op, in queue order, within the wave.
    constexpr std::array<PgStatement, 4> kOrder{
        PgStatement::create_session, PgStatement::create_quota, PgStatement::append_event,
        PgStatement::end_session};
    std::vector<Planned> out;
    std::array<std::vector<std::size_t>, kOrder.size()> wave;
    std::unordered_set<std::string_view> seen;
    const auto flush = [&] {
        for (std::size_t k = 0; k < kOrder.size(); ++k) {
            if (wave[k].empty()) {
                continue;
            }
            if (many_definition(kOrder[k]) == nullptr) {
                for (const std::size_t i : wave[k]) {
                    out.push_back(Planned{kOrder[k], {i}});
                }
            } else {
                out.push_back(Planned{kOrder[k], std::move(wave[k])});
            }
            wave[k].clear();
        }
        seen.clear();
    };
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto st = batch[i]->statement();
        const auto kind = std::find(kOrder.begin(), kOrder.end(), st);
        if (kind == kOrder.end()) {
            // Not a write with a batched form: a statement of its own, in order.
            flush();
            out.push_back(Planned{st, {i}});
            continue;
        }
        const std::string& key = batch[i]->session_key();
        if (!key.empty() && !seen.insert(key).second) {
            flush();
            seen.insert(key);
        }
        wave[static_cast<std::size_t>(kind - kOrder.begin())].push_back(i);
    }
    flush();
    return out;
}

bool runs_batched(const Planned& p) {
    return p.ops.size() > 1 && many_definition(p.statement) != nullptr;
}

PgParams many_params(const PgBatch& batch, const std::vector<std::size_t>& ops) {
    const std::size_t count = batch[ops.front()]->params().size();
    PgParams out(count);
    for (std::size_t p = 0; p < count; ++p) {
        std::string& a = out[p];
        a.reserve(ops.size() * 24);
        a.push_back('{');
        for (std::size_t k = 0; k < ops.size(); ++k) {
            append_pg_array_element(a, batch[ops[k]]->params()[p], k == 0);
        }
        a.push_back('}');
    }
    return out;
}

std::vector<int> rows_by_position(const std::vector<std::int64_t>& positions, std::size_t count) {
    std::vector<int> row_of(count, -1);
    for (std::size_t r = 0; r < positions.size(); ++r) {
        const auto n = positions[r];
        if (n >= 1 && static_cast<std::size_t>(n) <= count) {
            row_of[static_cast<std::size_t>(n - 1)] = static_cast<int>(r);
        }
    }
    return row_of;
}

std::vector<int> rows_by_id(const std::vector<std::string_view>& ids,
                            const std::vector<std::string_view>& keys) {
    // The inserted ids are distinct within a wave.
    std::unordered_map<std::string_view, int> row_by_id;
    for (std::size_t r = 0; r < ids.size(); ++r) {
        row_by_id.emplace(ids[r], static_cast<int>(r));
    }
    std::vector<int> row_of(keys.size(), -1);
    for (std::size_t k = 0; k < keys.size(); ++k) {
        const auto found = row_by_id.find(keys[k]);
        row_of[k] = found != row_by_id.end() ? found->second : -1;
    }
    return row_of;
}

void collect_rollup(const PgOpBase& op, const PgRows& row, const PriceTable& prices,
                    RollupBatch& out) {
    const PgParams& p = op.params();
    const auto integer = [](std::string_view text) {
        std::int64_t v = 0;
        (void)std::from_chars(text.data(), text.data() + text.size(), v);
        return v;
    };
    switch (op.statement()) {
        case PgStatement::create_session:
        case PgStatement::create_quota:
            // create_quota answers one row whose first column counts the sessions it inserted.
            if (row.size() == 1 &&
                (op.statement() == PgStatement::create_session || row.int64(0, 0) == 1)) {
                out.add_usage(quota_day(integer(p[5])), p[1], p[2], issue_delta());
            }
            break;
        case PgStatement::end_session:
            if (row.size() == 1 && row.boolean(0, kEndLate)) {
                // A late report on a call the server ended first: its figures only.
                const std::string& reported = p[2];
                out.add_usage(
                    quota_day(row.int64(0, 5)), std::string(row.text(0, 1)),
                    std::string(row.text(0, 2)),
                    late_report_delta(std::strtod(reported.c_str(), nullptr), integer(p[3])));
            } else if (row.size() == 1 && row.boolean(0, kEndEnding)) {
                TokenUsage t;
                const std::array<std::int64_t*, 8> fields{
                    &t.input_text,   &t.input_audio,  &t.input_image, &t.cached_text,
                    &t.cached_audio, &t.cached_image, &t.output_text, &t.output_audio};
                for (std::size_t i = 0; i < fields.size(); ++i) {
                    *fields[i] = row.int64(0, kEndTokens + static_cast<int>(i));
                }
                const std::string model(row.text(0, 2));
                const auto price = prices.find(model);
                const std::int64_t billable = row.int64(0, kEndBillable);
                UsageCounters d =
                    end_delta(0, billable, integer(p[3]), p[4], t,
                              estimate_cost_usd(price != prices.end() ? &price->second : nullptr, t,
                                                billable));
                d.n[2] = row.int64(0, kEndReportedMs);  // reported ms, rounded by the statement
                out.add_usage(quota_day(row.int64(0, 5)), std::string(row.text(0, 1)), model, d);
            }
            break;
        default:
            break;
    }
}

void decode_planned(const PgBatch& batch, const Planned& planned, const pg_result* res,
                    const PriceTable& prices, RollupBatch& rollups) {
    if (!runs_batched(planned)) {
        PgOpBase& op = *batch[planned.ops.front()];
        op.decode(PgRows(res));
        collect_rollup(op, PgRows(res), prices, rollups);
        return;
    }
    // A batched answer: each op's row found by its position n (ends) or session id (creates).
    const PgRows rows(res);
    std::vector<int> row_of(planned.ops.size(), -1);
    if (planned.statement == PgStatement::end_session) {
        std::vector<std::int64_t> positions;
        positions.reserve(static_cast<std::size_t>(rows.size()));
        for (int r = 0; r < rows.size(); ++r) {
            positions.push_back(rows.int64(r, kEndManyN));
        }
        row_of = rows_by_position(positions, planned.ops.size());
    } else if (planned.statement == PgStatement::create_session) {
        std::vector<std::string_view> ids;
        ids.reserve(static_cast<std::size_t>(rows.size()));
        for (int r = 0; r < rows.size(); ++r) {
            ids.push_back(rows.text(r, 0));
        }
        std::vector<std::string_view> keys;
        for (const std::size_t i : planned.ops) {
            keys.push_back(batch[i]->session_key());
        }
        row_of = rows_by_id(ids, keys);
    }
    for (std::size_t k = 0; k < planned.ops.size(); ++k) {
        const PgRows row = PgRows::one(res, row_of[k]);
        batch[planned.ops[k]]->decode(row);
        collect_rollup(*batch[planned.ops[k]], row, prices, rollups);
    }
}

}  // namespace voicegate::store::detail
