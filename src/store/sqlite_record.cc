#include "store/sqlite_record.h"

#include <array>
#include <string_view>

#include "core/check.h"

namespace km::store::sqlite {
namespace {

// The order bindRecord and readRecord use. id must stay first: updateRecordSql keys on ?1.
constexpr std::array<std::string_view, 22> kColumns = {
    "id", "alias", "number", "profile_name", "profile_yaml", "plan_json", "substrate", "region",
    "status", "failure", "created_at_ms", "updated_at_ms", "started_at_ms", "ttl_deadline_ms",
    "idle_timeout_s", "last_activity_ms", "locked", "cloned_from", "supervisor_pid",
    "supervisor_start", "init_pid", "init_start",
};

std::string joinColumns(std::string_view separator, bool with_params, size_t first) {
  std::string out;
  for (size_t i = first; i < kColumns.size(); ++i) {
    if (i > first) out += separator;
    out += kColumns[i];
    if (with_params) out += " = ?" + std::to_string(i + 1);
  }
  return out;
}

}  // namespace

const std::string& selectRecordSql() {
  static const std::string sql = "SELECT " + joinColumns(", ", false, 0) + " FROM sandboxes";
  return sql;
}

const std::string& insertRecordSql() {
  static const std::string sql = [] {
    std::string params;
    for (size_t i = 0; i < kColumns.size(); ++i) {
      params += (i ? ", ?" : "?") + std::to_string(i + 1);
    }
    return "INSERT INTO sandboxes (" + joinColumns(", ", false, 0) + ") VALUES (" + params + ")";
  }();
  return sql;
}

const std::string& updateRecordSql() {
  static const std::string sql =
      "UPDATE sandboxes SET " + joinColumns(", ", true, 1) + " WHERE id = ?1";
  return sql;
}

void bindRecord(Stmt& stmt, const SandboxRecord& r) {
  int i = 1;
  stmt.bind(i++, r.id);
  stmt.bindOptional(i++, r.alias);
  stmt.bind(i++, int64_t{r.number});
  stmt.bind(i++, r.profile_name);
  stmt.bind(i++, r.profile_yaml);
  stmt.bind(i++, r.plan_json);
  stmt.bind(i++, r.substrate);
  stmt.bind(i++, r.region);
  stmt.bind(i++, statusName(r.status));
  stmt.bind(i++, r.failure);
  stmt.bind(i++, r.created_at_ms);
  stmt.bind(i++, r.updated_at_ms);
  stmt.bind(i++, r.started_at_ms);
  stmt.bind(i++, r.ttl_deadline_ms);
  stmt.bind(i++, r.idle_timeout_s);
  stmt.bind(i++, r.last_activity_ms);
  stmt.bind(i++, int64_t{r.locked ? 1 : 0});
  stmt.bindOptional(i++, r.cloned_from);
  stmt.bind(i++, r.supervisor_pid);
  // SQLite integers are signed 64-bit; the bits round-trip through readRecord's cast back.
  stmt.bind(i++, static_cast<int64_t>(r.supervisor_start));
  stmt.bind(i++, r.init_pid);
  stmt.bind(i++, static_cast<int64_t>(r.init_start));
  KM_CHECK(i - 1 == static_cast<int>(kColumns.size())) << "bindRecord and kColumns disagree";
}

Result<SandboxRecord> readRecord(const Stmt& stmt) {
  SandboxRecord r;
  int c = 0;
  r.id = stmt.textAt(c++);
  r.alias = stmt.optionalTextAt(c++);
  r.number = static_cast<int>(stmt.int64At(c++));
  r.profile_name = stmt.textAt(c++);
  r.profile_yaml = stmt.textAt(c++);
  r.plan_json = stmt.textAt(c++);
  r.substrate = stmt.textAt(c++);
  r.region = stmt.textAt(c++);
  std::string status = stmt.textAt(c++);
  auto parsed = parseStatus(status);
  if (!parsed) {
    return unavailable("sandbox " + r.id + " has status '" + status +
                       "', which this km does not know (written by a newer km?)");
  }
  r.status = *parsed;
  r.failure = stmt.textAt(c++);
  r.created_at_ms = stmt.int64At(c++);
  r.updated_at_ms = stmt.int64At(c++);
  r.started_at_ms = stmt.int64At(c++);
  r.ttl_deadline_ms = stmt.int64At(c++);
  r.idle_timeout_s = stmt.int64At(c++);
  r.last_activity_ms = stmt.int64At(c++);
  r.locked = stmt.int64At(c++) != 0;
  r.cloned_from = stmt.optionalTextAt(c++);
  r.supervisor_pid = stmt.int64At(c++);
  r.supervisor_start = static_cast<uint64_t>(stmt.int64At(c++));
  r.init_pid = stmt.int64At(c++);
  r.init_start = static_cast<uint64_t>(stmt.int64At(c++));
  KM_CHECK(c == static_cast<int>(kColumns.size())) << "readRecord and kColumns disagree";
  return r;
}

}  // namespace km::store::sqlite
