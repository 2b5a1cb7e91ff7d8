// Private to km::store: makes a freshly opened connection ready for the FleetStore — checks
// the file is a km fleet database (or empty), sets the connection pragmas (WAL, busy timeout,
// foreign keys) and applies the schema migrations it lacks.
#pragma once

#include <string>

#include "core/result.h"
#include "store/sqlite_db.h"

namespace km::store::sqlite {

// How long a connection waits for another process's write lock before giving up with BUSY.
inline constexpr int kBusyTimeoutMs = 10000;

// Stored in the database header (PRAGMA application_id) when km creates the schema, so a
// SQLite file that belongs to something else is never migrated or written. "kmfs".
inline constexpr int kApplicationId = 0x6B6D6673;

// Unavailable when the file is not SQLite or is another program's database (messages from
// SQLite name the path; the caller adds it as context to the others);
// InvalidArgument when its schema is newer than currentSchemaVersion(); Unavailable with
// SQLite's message for anything else that fails. A refused file is left untouched; a failed
// migration is rolled back.
[[nodiscard]] Status prepareDatabase(Db& db);

// Opens the fleet database at `path` (made 0600 when missing, its directory must exist) and
// prepares it; errors say which file.
[[nodiscard]] Result<Db> openDatabase(const std::string& path);

}  // namespace km::store::sqlite
