#pragma once

namespace voicegate::store {

/// SQL dialects the shared schema and reads are rendered for. The DDL is written once in
/// portable SQL (TEXT, BIGINT, DOUBLE PRECISION); the few spots that must differ are
/// placeholders that render_migration() fills per dialect.
enum class Dialect { sqlite, postgres };

}  // namespace voicegate::store
