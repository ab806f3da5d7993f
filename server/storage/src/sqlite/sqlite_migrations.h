#pragma once
// The SQLite schema migrations, embedded at build time from server/storage/migrations/sqlite/NNNN_name.sql
// (cmake/embed_migrations.cmake), so parleyd needs no files besides its database at run time.
#include <span>
#include <string_view>

namespace parley::storage {

struct SqliteMigration {
    int version;            // NNNN of the file name; versions are 1, 2, 3... without gaps
    std::string_view name;  // the rest of the file name, without ".sql"
    std::string_view sql;   // the file's content, run in one transaction
};

// In version order.
std::span<const SqliteMigration> sqliteMigrations() noexcept;

}  // namespace parley::storage
