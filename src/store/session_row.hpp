#pragma once

#include <string>

#include "store/session_store.hpp"

namespace voicegate::store {

/// A session read back from a row whose first 15 columns are, in order: session_id, user_id,
/// model, voice, profile, issued_at_ms, token_expires_at, client_ip, user_agent, status,
/// ended_at_ms, reported_duration_s, observed_duration_s, message_count, ended_by (NULL until
/// the end). `cost_column` (negative: not selected) holds estimated_cost_usd, kept for an ended
/// session. `Cells` reads the row's columns: text(c), int64(c), float8(c), is_null(c). Each
/// engine adapts its own row type, so there is one decoding for them all.
template <class Cells>
SessionRow decode_session_row(const Cells& cells, int cost_column = -1) {
    SessionRow row;
    row.issued.session_id = cells.text(0);
    row.issued.user_id = cells.text(1);
    row.issued.model = cells.text(2);
    row.issued.voice = cells.text(3);
    row.issued.profile = cells.text(4);
    row.issued.issued_at_ms = cells.int64(5);
    row.issued.token_expires_at = cells.int64(6);
    row.issued.client_ip = cells.text(7);
    row.issued.user_agent = cells.text(8);
    row.status = cells.text(9);
    if (!cells.is_null(10)) {
        row.ended_at_ms = cells.int64(10);
    }
    if (!cells.is_null(11)) {
        row.reported_duration_s = cells.float8(11);
    }
    if (!cells.is_null(12)) {
        row.observed_duration_s = cells.float8(12);
    }
    if (!cells.is_null(13)) {
        row.message_count = cells.int64(13);
    }
    if (!cells.is_null(14)) {
        row.ended_by = std::string(cells.text(14));
    }
    if (cost_column >= 0 && row.status == "ended") {
        row.estimated_cost_usd = cells.float8(cost_column);
    }
    return row;
}

}  // namespace voicegate::store
