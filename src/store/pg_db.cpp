#include "store/pg_db.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <libpq-fe.h>

#include <poll.h>
#include <spdlog/spdlog.h>

#include "core/text.hpp"

namespace voicegate::store {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

bool is_identifier(std::string_view s) {
    if (s.empty() || s.size() > 63) {
        return false;
    }
    const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(s[0]) && s[0] != '_') {
        return false;
    }
    return std::all_of(s.begin(), s.end(),
                       [&](char c) { return alpha(c) || (c >= '0' && c <= '9') || c == '_'; });
}

// libpq's multi-line messages on one line, whitespace runs collapsed, for logs and details.
std::string one_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const bool space = c == '\n' || c == '\t' || c == ' ' || c == '\r';
        if (!space) {
            out.push_back(c);
        } else if (!out.empty() && out.back() != ' ') {
            out.push_back(' ');
        }
    }
    while (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

// libpq quotes the connection URL in some messages (e.g. `invalid IPv6 host address in URI:
// "postgres://u:PASSWORD@[bad/db"`): never pass its text on with the password in it.
std::string error_text(const pg_conn* conn) {
    return conn != nullptr ? redact_url_userinfo(one_line(PQerrorMessage(conn))) : "out of memory";
}

std::string result_text(const pg_result* result) {
    return result != nullptr ? redact_url_userinfo(one_line(PQresultErrorMessage(result))) : "";
}

// Server notices (e.g. "schema already exists, skipping") go to the debug log, not stderr.
void log_notice(void*, const char* message) {
    spdlog::debug("postgres: {}", one_line(message != nullptr ? message : ""));
}

}  // namespace

Result<PgTarget> parse_pg_url(std::string_view url) {
    if (!url.starts_with("postgres://") && !url.starts_with("postgresql://")) {
        return fail(Error::bad_request,
                    "a PostgreSQL URL starts with postgres:// or postgresql://");
    }
    PgTarget t;
    const auto q = url.find('?');
    if (q == std::string_view::npos) {
        t.conninfo = std::string(url);
        return t;
    }
    std::string kept;
    std::string_view query = url.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (item.empty()) {
            continue;
        }
        const auto eq = item.find('=');
        if (item.substr(0, eq) == "schema") {
            t.schema = percent_decode(eq == std::string_view::npos ? "" : item.substr(eq + 1));
            if (!is_identifier(t.schema)) {
                return fail(Error::bad_request,
                            "DATABASE_URL schema= must be a plain SQL name (letters, digits, _; "
                            "at most 63 characters)");
            }
            continue;
        }
        kept.append(kept.empty() ? "" : "&").append(item);
    }
    t.conninfo = std::string(url.substr(0, q));
    if (!kept.empty()) {
        t.conninfo.append("?").append(kept);
    }
    return t;
}

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (const char c : name) {
        out.push_back(c);
        if (c == '"') {
            out.push_back('"');
        }
    }
    out.push_back('"');
    return out;
}

void append_pg_array_element(std::string& out, std::string_view item, bool first) {
    out.append(first ? "\"" : ",\"");
    for (const char c : item) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    out.push_back('"');
}

std::string pg_text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        append_pg_array_element(out, items[i], i == 0);
    }
    out.push_back('}');
    return out;
}

void PgResultDeleter::operator()(pg_result* result) const {
    PQclear(result);
}

int PgRows::columns() const {
    return result_ == nullptr ? 0 : PQnfields(result_);
}

int PgRows::size() const {
    if (result_ == nullptr) {
        return 0;
    }
    return count_ >= 0 ? count_ : PQntuples(result_);
}

bool PgRows::is_null(int row, int column) const {
    return PQgetisnull(result_, first_ + row, column) != 0;
}

std::string_view PgRows::text(int row, int column) const {
    if (is_null(row, column)) {
        return {};
    }
    return {PQgetvalue(result_, first_ + row, column),
            static_cast<std::size_t>(PQgetlength(result_, first_ + row, column))};
}

std::int64_t PgRows::int64(int row, int column) const {
    const auto s = text(row, column);
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

double PgRows::float8(int row, int column) const {
    const auto s = text(row, column);
    double v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

bool PgRows::boolean(int row, int column) const {
    return text(row, column) == "t";
}

bool pg_tuples_or_command_ok(const pg_result* result) {
    const auto st = PQresultStatus(result);
    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

bool pg_pipeline_aborted(const pg_result* result) {
    return PQresultStatus(result) == PGRES_PIPELINE_ABORTED;
}

bool pg_pipeline_sync(const pg_result* result) {
    return PQresultStatus(result) == PGRES_PIPELINE_SYNC;
}

bool pg_conflict(const Failure& f) {
    return f.details.ends_with("(40P01)") || f.details.ends_with("(40001)");
}

PgError pg_error(const pg_conn* conn, const pg_result* result, std::string_view what) {
    PgError e;
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    e.sqlstate = state != nullptr ? state : "";
    std::string text = result_text(result);
    if (text.empty()) {
        text = error_text(conn);
    }
    std::string details = "postgres: " + std::string(what) + ": " + text;
    if (!e.sqlstate.empty()) {
        details += " (" + e.sqlstate + ")";
    }
    // Connection-level failures: a broken connection, SQLSTATE class 08 (connection exception),
    // 57P01..57P03 (admin shutdown, crash shutdown, cannot connect now).
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK || e.sqlstate.empty() ||
        e.sqlstate.starts_with("08") || e.sqlstate.starts_with("57P")) {
        e.kind = PgFailureKind::connection;
    } else if (e.sqlstate == "40P01" || e.sqlstate == "40001") {
        e.kind = PgFailureKind::conflict;
    }
    if (e.sqlstate.starts_with("23")) {
        e.failure = fail(Error::internal, {}, "constraint: " + details);
    } else if (e.sqlstate.starts_with("22")) {
        // Data exception: the value itself is unacceptable (e.g. text that is not UTF-8).
        e.failure = fail(Error::bad_request, {}, std::move(details));
    } else {
        e.failure = fail(Error::store_unavailable, {}, std::move(details));
    }
    return e;
}

Result<std::unique_ptr<PgConnection>> PgConnection::connect(const PgTarget& target) {
    // expand_dbname: libpq parses the URL given as "dbname". Keywords are applied in order and
    // the last wins, so the defaults come first and the URL (last) overrides them.
    const char* const keys[] = {"fallback_application_name", "connect_timeout", "dbname", nullptr};
    const char* const values[] = {"voicegate", "10", target.conninfo.c_str(), nullptr};
    pg_conn* conn = PQconnectdbParams(keys, values, 1);
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
        Failure f = fail(Error::store_unavailable, {}, "postgres: connect: " + error_text(conn));
        PQfinish(conn);
        return f;
    }
    PQsetNoticeProcessor(conn, log_notice, nullptr);
    return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() {
    PQfinish(conn_);
}

Failure PgConnection::lost(std::string_view what) const {
    return fail(Error::store_unavailable, {},
                "postgres: " + std::string(what) + ": " + error_text(conn_));
}

Result<void> PgConnection::exec_script(std::string_view sql) {
    const std::string text(sql);
    PgResultPtr r(PQexec(conn_, text.c_str()));
    if (!r || !pg_tuples_or_command_ok(r.get())) {
        return pg_error(conn_, r.get(), "exec").failure;
    }
    return {};
}

Result<std::vector<std::int64_t>> PgConnection::query_ints(std::string_view sql) {
    auto r = exec_params(sql, {});
    if (!r) {
        return r.error();
    }
    PgRows rows(r->get());
    std::vector<std::int64_t> out;
    out.reserve(static_cast<std::size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) {
        out.push_back(rows.int64(i, 0));
    }
    return out;
}

Result<PgResultPtr> PgConnection::exec_params(std::string_view sql, const PgParams& params) {
    const std::string text(sql);
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p.c_str());
    }
    PgResultPtr r(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
    if (!r || !pg_tuples_or_command_ok(r.get())) {
        return pg_error(conn_, r.get(), "query").failure;
    }
    return r;
}

Result<void> PgConnection::use_schema(const std::string& schema, bool create) {
    if (schema.empty()) {
        return {};
    }
    if (create) {
        // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the
        // database even when the schema exists, which a restricted role may lack.
        auto found = exec_params("SELECT count(*) FROM pg_namespace WHERE nspname = $1", {schema});
        if (!found) {
            return found.error();
        }
        if (PgRows(found->get()).int64(0, 0) == 0) {
            if (auto r = exec_script("CREATE SCHEMA IF NOT EXISTS " + quote_identifier(schema));
                !r) {
                return r.error();
            }
        }
    }
    return exec_script("SET search_path TO " + quote_identifier(schema));
}

Result<void> PgConnection::prepare(const char* name, std::string_view sql,
                                   std::span<const unsigned> param_types) {
    const std::string text(sql);
    PgResultPtr r(PQprepare(conn_, name, text.c_str(), static_cast<int>(param_types.size()),
                            param_types.data()));
    if (!r || !pg_tuples_or_command_ok(r.get())) {
        return pg_error(conn_, r.get(), std::string("prepare ") + name).failure;
    }
    return {};
}

Result<void> PgConnection::enter_pipeline() {
    if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1) {
        return lost("enter pipeline mode");
    }
    return {};
}

Result<void> PgConnection::send_query(const char* sql) {
    if (PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
        return lost("send");
    }
    return {};
}

Result<void> PgConnection::send_params(const std::string& sql, const PgParams& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p.c_str());
    }
    if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0) != 1) {
        return lost("send");
    }
    return {};
}

Result<void> PgConnection::send_prepared(const char* name, const PgParams& params) {
    // Most statements have under 16 parameters: no allocation for the pointer array then.
    constexpr std::size_t kInline = 16;
    const char* inline_values[kInline];
    std::vector<const char*> heap;
    const char** values = inline_values;
    if (params.size() > kInline) {
        heap.resize(params.size());
        values = heap.data();
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
        values[i] = params[i].c_str();
    }
    if (PQsendQueryPrepared(conn_, name, static_cast<int>(params.size()), values, nullptr, nullptr,
                            0) != 1) {
        return lost("send");
    }
    return {};
}

Result<void> PgConnection::sync() {
    if (PQpipelineSync(conn_) != 1) {
        return lost("sync");
    }
    return {};
}

Result<PgResultPtr> PgConnection::next_result(Deadline deadline) {
    for (;;) {
        const int flushed = PQflush(conn_);
        if (flushed < 0) {
            return lost("write");
        }
        if (PQisBusy(conn_) == 0) {
            return PgResultPtr(PQgetResult(conn_));
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return fail(Error::store_unavailable, {}, "postgres: no answer before the deadline");
        }
        pollfd pfd{};
        pfd.fd = PQsocket(conn_);
        pfd.events = static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0));
        const int n = ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
        if (n < 0 && errno != EINTR) {
            return lost("poll");
        }
        if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
            if (PQconsumeInput(conn_) == 0) {
                return lost("read");
            }
        }
    }
}

Result<void> PgConnection::take_sync(Deadline deadline) {
    auto synced = take(deadline);
    if (!synced) {
        return synced.error();
    }
    if (!pg_pipeline_sync(synced->get())) {
        return fail(Error::store_unavailable, {}, "postgres: pipeline out of step");
    }
    return {};
}

Result<PgResultPtr> PgConnection::take(Deadline deadline) {
    auto r = next_result(deadline);
    if (!r) {
        return r;
    }
    if (!*r) {
        return lost("protocol: missing result");
    }
    if (pg_pipeline_sync(r->get())) {
        return r;
    }
    // Every query's results end with a null.
    auto end = next_result(deadline);
    if (!end) {
        return end.error();
    }
    if (*end) {
        return lost("protocol: more than one result for a query");
    }
    return r;
}

bool PgConnection::poll_idle() {
    return PQconsumeInput(conn_) == 1 && PQstatus(conn_) == CONNECTION_OK;
}

bool PgConnection::ok() const {
    return PQstatus(conn_) == CONNECTION_OK;
}

int PgConnection::backend_pid() const {
    return PQbackendPID(conn_);
}

namespace {

SqlTable table_of(const pg_result* res) {
    const PgRows rows(res);
    SqlTable out;
    out.rows.resize(static_cast<std::size_t>(rows.size()));
    for (int r = 0; r < rows.size(); ++r) {
        auto& row = out.rows[static_cast<std::size_t>(r)];
        for (int c = 0; c < rows.columns(); ++c) {
            if (rows.is_null(r, c)) {
                row.emplace_back();
            } else {
                row.emplace_back(std::string(rows.text(r, c)));
            }
        }
    }
    return out;
}

}  // namespace

Result<SqlTable> PgExec::query(const SqlQuery& q) {
    PgParams params;
    params.reserve(q.params.size());
    for (const auto& v : q.params) {
        if (const auto* n = std::get_if<std::int64_t>(&v)) {
            params.push_back(std::to_string(*n));
        } else {
            params.push_back(std::get<std::string>(v));
        }
    }
    if (!pipeline_) {
        auto r = conn_.exec_params(q.sql, params);
        if (!r) {
            return r.error();
        }
        return table_of(r->get());
    }
    return round_trip(conn_.send_params(q.sql, params));
}

Result<SqlTable> PgExec::prepared(const char* name, const PgParams& params) {
    if (!pipeline_) {
        return fail(Error::internal, {}, "postgres: prepared statements need pipeline mode");
    }
    return round_trip(conn_.send_prepared(name, params));
}

Result<SqlTable> PgExec::round_trip(Result<void> sent) {
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    if (sent) {
        sent = conn_.sync();
    }
    if (!sent) {
        return sent.error();
    }
    auto res = conn_.take(deadline);
    if (!res) {
        return res.error();
    }
    Result<SqlTable> out =
        pg_tuples_or_command_ok(res->get())
            ? Result<SqlTable>(table_of(res->get()))
            : Result<SqlTable>(pg_error(conn_.handle(), res->get(), "read").failure);
    if (auto synced = conn_.take_sync(deadline); !synced) {
        return synced.error();
    }
    return out;
}

}  // namespace voicegate::store
