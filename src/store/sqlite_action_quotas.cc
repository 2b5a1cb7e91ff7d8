// ActionQuotas over the fleet database: table action_counts (one row per sandbox, action and
// window: "lifetime", "hour:<unix hour>", "day:<unix day>") and action_freezes.
#include <string>

#include "store/action_quotas.h"
#include "store/sqlite_db.h"
#include "store/sqlite_schema.h"

namespace km::store {
namespace {

using sqlite::Db;
using sqlite::WriteTxn;

std::string hourWindow(int64_t now_ms) { return "hour:" + std::to_string(now_ms / 3'600'000); }
std::string dayWindow(int64_t now_ms) { return "day:" + std::to_string(now_ms / 86'400'000); }

class SqliteActionQuotas final : public ActionQuotas {
 public:
  explicit SqliteActionQuotas(Db db) : db_(std::move(db)) {}

  Result<ActionTake> take(std::string_view sandbox_id, std::string_view action, const ActionLimit& limit,
                          int64_t now_ms) override {
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error();
    ActionTake t;
    auto freeze = frozenIn(sandbox_id);
    if (!freeze) return std::move(freeze).error();
    const std::string hour = hourWindow(now_ms), day = dayWindow(now_ms);
    auto lifetime = count(sandbox_id, action, "lifetime");
    auto in_hour = count(sandbox_id, action, hour);
    auto in_day = count(sandbox_id, action, day);
    if (!lifetime) return std::move(lifetime).error();
    if (!in_hour) return std::move(in_hour).error();
    if (!in_day) return std::move(in_day).error();
    t.lifetime = *lifetime;
    t.hour = *in_hour;
    t.day = *in_day;
    if (*freeze) {
      t.allowed = false;
      t.reason = "outbound actions are frozen: " + (*freeze)->reason + " (km unlock releases them)";
      return t;  // nothing written: the transaction rolls back
    }
    std::string a(action);
    auto over = [&](int64_t next, int64_t max, std::string_view per) -> std::string {
      if (max < 0 || next <= max) return "";
      return a + " quota reached: " + std::to_string(max) + " " + std::string(per) + " (spec.limits." + a +
             (per == "per hour" ? ".perHour" : per == "per day" ? ".perDay" : ".lifetime") + ")";
    };
    for (std::string why : {over(t.lifetime + 1, limit.lifetime, "in the sandbox's lifetime"),
                            over(t.hour + 1, limit.per_hour, "per hour"), over(t.day + 1, limit.per_day, "per day")}) {
      if (!why.empty() && t.reason.empty()) t.reason = why;
    }
    t.breached = !t.reason.empty();
    if (t.breached && limit.on_breach != "warn") {
      t.allowed = false;
      if (limit.on_breach == "freeze") {
        KM_TRY(setFreeze(sandbox_id, t.reason, now_ms));
        t.froze = true;
        KM_TRY(txn->commit());
      }
      return t;
    }
    for (const std::string& win : {std::string("lifetime"), hour, day}) {
      auto up = db_.prepare(
          "INSERT INTO action_counts (sandbox_id, action, win, count) VALUES (?1, ?2, ?3, 1)"
          " ON CONFLICT (sandbox_id, action, win) DO UPDATE SET count = count + 1");
      if (!up) return std::move(up).error();
      up->bind(1, sandbox_id);
      up->bind(2, action);
      up->bind(3, win);
      KM_TRY(up->run());
    }
    // Windows of this action that are over are of no use any more.
    auto prune = db_.prepare(
        "DELETE FROM action_counts WHERE sandbox_id = ?1 AND action = ?2 AND win != 'lifetime' AND win != ?3 AND "
        "win != ?4");
    if (!prune) return std::move(prune).error();
    prune->bind(1, sandbox_id);
    prune->bind(2, action);
    prune->bind(3, hour);
    prune->bind(4, day);
    KM_TRY(prune->run());
    KM_TRY(txn->commit());
    ++t.lifetime;
    ++t.hour;
    ++t.day;
    return t;
  }

  Status freeze(std::string_view sandbox_id, std::string_view reason, int64_t now_ms) override {
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error();
    KM_TRY(setFreeze(sandbox_id, reason, now_ms));
    return txn->commit();
  }

  Result<bool> unfreeze(std::string_view sandbox_id) override {
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error();
    auto f = frozenIn(sandbox_id);
    if (!f) return std::move(f).error();
    auto del = db_.prepare("DELETE FROM action_freezes WHERE sandbox_id = ?1");
    if (!del) return std::move(del).error();
    del->bind(1, sandbox_id);
    KM_TRY(del->run());
    KM_TRY(txn->commit());
    return f->has_value();
  }

  Result<std::optional<ActionFreeze>> frozen(std::string_view sandbox_id) override { return frozenIn(sandbox_id); }

  Result<std::vector<ActionCount>> counts(std::string_view sandbox_id, int64_t now_ms) override {
    auto q = db_.prepare(
        "SELECT action, sum(CASE WHEN win = 'lifetime' THEN count ELSE 0 END),"
        " sum(CASE WHEN win = ?2 THEN count ELSE 0 END), sum(CASE WHEN win = ?3 THEN count ELSE 0 END)"
        " FROM action_counts WHERE sandbox_id = ?1 GROUP BY action ORDER BY action");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox_id);
    q->bind(2, hourWindow(now_ms));
    q->bind(3, dayWindow(now_ms));
    std::vector<ActionCount> out;
    for (;;) {
      auto row = q->step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      out.push_back({q->textAt(0), q->int64At(1), q->int64At(2), q->int64At(3)});
    }
    return out;
  }

  Status forget(std::string_view sandbox_id) override {
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error();
    for (const char* sql : {"DELETE FROM action_counts WHERE sandbox_id = ?1", "DELETE FROM action_freezes WHERE sandbox_id = ?1"}) {
      auto del = db_.prepare(sql);
      if (!del) return std::move(del).error();
      del->bind(1, sandbox_id);
      KM_TRY(del->run());
    }
    return txn->commit();
  }

 private:
  Result<int64_t> count(std::string_view sandbox_id, std::string_view action, const std::string& win) {
    auto q = db_.prepare("SELECT count FROM action_counts WHERE sandbox_id = ?1 AND action = ?2 AND win = ?3");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox_id);
    q->bind(2, action);
    q->bind(3, win);
    auto row = q->step();
    if (!row) return std::move(row).error();
    return *row ? q->int64At(0) : int64_t{0};
  }

  Result<std::optional<ActionFreeze>> frozenIn(std::string_view sandbox_id) {
    auto q = db_.prepare("SELECT reason, at_ms FROM action_freezes WHERE sandbox_id = ?1");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox_id);
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<ActionFreeze>();
    return std::optional<ActionFreeze>(ActionFreeze{q->textAt(0), q->int64At(1)});
  }

  Status setFreeze(std::string_view sandbox_id, std::string_view reason, int64_t now_ms) {
    auto up = db_.prepare(
        "INSERT INTO action_freezes (sandbox_id, reason, at_ms) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (sandbox_id) DO UPDATE SET reason = excluded.reason, at_ms = excluded.at_ms");
    if (!up) return std::move(up).error();
    up->bind(1, sandbox_id);
    up->bind(2, reason);
    up->bind(3, now_ms);
    return up->run();
  }

  Db db_;
};

}  // namespace

Result<std::unique_ptr<ActionQuotas>> openSqliteActionQuotas(const std::string& path) {
  auto db = sqlite::openDatabase(path);
  if (!db) return std::move(db).error();
  return std::unique_ptr<ActionQuotas>(std::make_unique<SqliteActionQuotas>(std::move(*db)));
}

}  // namespace km::store
