// Private to km::store: how a SandboxRecord maps onto a row of the `sandboxes` table. One list
// of columns drives the SELECT, INSERT and UPDATE texts and the bind/read order, so adding a
// field means adding it here (and a schema migration) and nowhere else.
#pragma once

#include <string>

#include "core/result.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace km::store::sqlite {

// "SELECT <every column> FROM sandboxes" (append WHERE / ORDER BY).
const std::string& selectRecordSql();
// "INSERT INTO sandboxes (<every column>) VALUES (?1, …)".
const std::string& insertRecordSql();
// "UPDATE sandboxes SET <every column but id> = ?N … WHERE id = ?1".
const std::string& updateRecordSql();

// Binds every field to ?1…?N in column order (id is ?1), for insertRecordSql/updateRecordSql.
void bindRecord(Stmt& stmt, const SandboxRecord& record);

// The record in the current row of a selectRecordSql() statement. Unavailable when the row
// holds a status this km does not know (a newer km wrote it).
[[nodiscard]] Result<SandboxRecord> readRecord(const Stmt& stmt);

}  // namespace km::store::sqlite
