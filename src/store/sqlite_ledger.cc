// The SQLite Ledger, in the fleet database: every check-and-change of a pool runs inside one
// BEGIN IMMEDIATE transaction, so reservations from any number of threads and processes are
// serialised by SQLite's write lock and can never together pass a limit. A settled event is
// committed with its pool's new spend in the same transaction (WAL: durable when the
// supervisor is killed; synchronous=NORMAL means an OS crash may lose the last commits).
#include <limits>

#include "store/ledger.h"
#include "store/sqlite_db.h"
#include "store/sqlite_schema.h"

namespace km::store {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::WriteTxn;

std::optional<Pool> parsePool(std::string_view text) {
  if (text == "ai") return Pool::kAi;
  if (text == "compute") return Pool::kCompute;
  return std::nullopt;
}

constexpr std::string_view kEventColumns =
    "id, sandbox_id, pool, at_ms, provider, api, model, request_id, input_tokens, output_tokens,"
    " cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, reasoning_tokens,"
    " web_search_requests, cost_micros, note";

UsageEvent eventAt(const Stmt& s) {
  UsageEvent e;
  int c = 0;
  e.id = s.int64At(c++);
  e.sandbox_id = s.textAt(c++);
  e.pool = parsePool(s.textAt(c++)).value_or(Pool::kAi);
  e.at_ms = s.int64At(c++);
  e.provider = s.textAt(c++);
  e.api = s.textAt(c++);
  e.model = s.textAt(c++);
  e.request_id = s.textAt(c++);
  e.input_tokens = s.int64At(c++);
  e.output_tokens = s.int64At(c++);
  e.cache_write_5m_tokens = s.int64At(c++);
  e.cache_write_1h_tokens = s.int64At(c++);
  e.cache_read_tokens = s.int64At(c++);
  e.reasoning_tokens = s.int64At(c++);
  e.web_search_requests = s.int64At(c++);
  e.cost = s.int64At(c++);
  e.note = s.textAt(c++);
  return e;
}

// A write transaction of one call, or nothing inside a batch (the batch's transaction holds).
class Scope {
 public:
  explicit Scope(std::optional<WriteTxn> txn) : txn_(std::move(txn)) {}
  [[nodiscard]] Status commit() { return txn_ ? txn_->commit() : ok(); }

 private:
  std::optional<WriteTxn> txn_;
};

class SqliteLedger final : public Ledger {
 public:
  explicit SqliteLedger(Db db) : db_(std::move(db)) {}

  Status batch(const std::function<Status()>& ops) override {
    if (batching_) return internalError("Ledger::batch is not reentrant");
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error().context("starting a batch of ledger writes");
    batching_ = true;
    Status st = ops();
    batching_ = false;
    if (!st) return st;  // the transaction rolls back as it goes
    return txn->commit();
  }

  Status setLimit(std::string_view sandbox, Pool pool, Micros limit, Ppm threshold) override {
    if (limit < 0) return invalidArgument("a budget limit cannot be negative");
    if (threshold < 0 || threshold > kPpmOne) return invalidArgument("a warning threshold must be between 0 and 1");
    const std::string what = "setting the " + std::string(poolName(pool)) + " budget of " + std::string(sandbox);
    auto txn = begin();
    if (!txn) return std::move(txn).error().context(what);
    auto st = db_.prepare(
        "INSERT INTO budget_pools (sandbox_id, pool, limit_micros, spent_micros, reserved_micros, warning_ppm, warned)"
        " VALUES (?1, ?2, ?3, 0, 0, ?4, 0) ON CONFLICT (sandbox_id, pool) DO UPDATE SET"
        " limit_micros = ?3, warning_ppm = ?4");
    if (!st) return std::move(st).error().context(what);
    st->bind(1, sandbox);
    st->bind(2, poolName(pool));
    st->bind(3, limit);
    st->bind(4, threshold);
    if (auto r = st->run(); !r) return std::move(r).error().context(what);
    // A new limit may put the spend below (or past) the threshold: warned follows.
    auto now = read(sandbox, pool);
    if (!now) return std::move(now).error().context(what);
    if (*now) KM_TRY(write(sandbox, pool, addLimit(**now, 0)));
    return txn->commit();
  }

  Result<PoolState> addToLimit(std::string_view sandbox, Pool pool, Micros amount) override {
    if (amount <= 0) return invalidArgument("a top-up must be more than $0");
    const std::string what = "topping up the " + std::string(poolName(pool)) + " budget of " + std::string(sandbox);
    auto txn = begin();
    if (!txn) return std::move(txn).error().context(what);
    auto now = read(sandbox, pool);
    if (!now) return std::move(now).error().context(what);
    if (!*now) return notFound(std::string(sandbox) + " has no " + std::string(poolName(pool)) + " budget");
    if (!(*now)->capped()) {
      return invalidArgument("the " + std::string(poolName(pool)) + " budget of " + std::string(sandbox) +
                             " has no limit; nothing to add to");
    }
    PoolState next = addLimit(**now, amount);
    if (auto st = write(sandbox, pool, next); !st) return std::move(st).error().context(what);
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return next;
  }

  Result<std::optional<PoolState>> pool(std::string_view sandbox, Pool pool) override { return read(sandbox, pool); }

  Result<std::optional<Reservation>> reserve(std::string_view sandbox, Pool pool, Micros amount,
                                             int64_t at_ms) override {
    if (amount < 0) return invalidArgument("a reservation cannot be negative");
    const std::string what = "reserving budget for " + std::string(sandbox);
    auto txn = begin();
    if (!txn) return std::move(txn).error().context(what);
    auto now = read(sandbox, pool);
    if (!now) return std::move(now).error().context(what);
    PoolState state = *now ? **now : PoolState{};
    if (!*now) state.warning_threshold = PoolState{}.warning_threshold;
    if (amount > state.available()) return std::optional<Reservation>();
    state.reserved += amount;
    if (auto st = write(sandbox, pool, state); !st) return std::move(st).error().context(what);
    auto ins = db_.prepare("INSERT INTO reservations (sandbox_id, pool, amount_micros, at_ms) VALUES (?1, ?2, ?3, ?4)"
                           " RETURNING id");
    if (!ins) return std::move(ins).error().context(what);
    ins->bind(1, sandbox);
    ins->bind(2, poolName(pool));
    ins->bind(3, amount);
    ins->bind(4, at_ms);
    auto row = ins->step();
    if (!row) return std::move(row).error().context(what);
    if (!*row) return internalError(what + ": no id returned");
    Reservation r{ins->int64At(0), std::string(sandbox), pool, amount, at_ms};
    (void)ins->run();  // finishes the statement
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return std::optional<Reservation>(std::move(r));
  }

  Result<PoolChange> settle(int64_t id, UsageEvent event) override {
    const std::string what = "settling AI call reservation " + std::to_string(id);
    auto txn = begin();
    if (!txn) return std::move(txn).error().context(what);
    auto taken = take(id, /*give_back_later=*/true);
    if (!taken) return std::move(taken).error().context(what);
    if (!*taken) return notFound("reservation " + std::to_string(id) + " is gone (settled or released already)");
    event.sandbox_id = (*taken)->sandbox_id;
    event.pool = (*taken)->pool;
    auto change = spend(event, (*taken)->amount);
    if (!change) return std::move(change).error().context(what);
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return change;
  }

  Status release(int64_t id) override {
    const std::string what = "releasing AI call reservation " + std::to_string(id);
    auto txn = begin();
    if (!txn) return std::move(txn).error().context(what);
    auto taken = take(id);
    if (!taken) return std::move(taken).error().context(what);
    if (!*taken) return notFound("reservation " + std::to_string(id) + " is gone (settled or released already)");
    return txn->commit();
  }

  Result<int64_t> releaseAll(std::string_view sandbox) override {
    const std::string what = "releasing the reservations of " + std::string(sandbox);
    auto txn = begin();
    if (!txn) return std::move(txn).error().context(what);
    auto del = db_.prepare("DELETE FROM reservations WHERE sandbox_id = ?1");
    if (!del) return std::move(del).error().context(what);
    del->bind(1, sandbox);
    if (auto st = del->run(); !st) return std::move(st).error().context(what);
    int64_t n = db_.changes();
    auto zero = db_.prepare("UPDATE budget_pools SET reserved_micros = 0 WHERE sandbox_id = ?1");
    if (!zero) return std::move(zero).error().context(what);
    zero->bind(1, sandbox);
    if (auto st = zero->run(); !st) return std::move(st).error().context(what);
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return n;
  }

  Result<PoolChange> charge(Pool pool, UsageEvent event) override {
    const std::string what = "charging the " + std::string(poolName(pool)) + " budget of " + event.sandbox_id;
    if (event.cost < 0) return invalidArgument(what + ": a charge cannot be negative");
    auto txn = begin();
    if (!txn) return std::move(txn).error().context(what);
    event.pool = pool;
    auto change = spend(event);
    if (!change) return std::move(change).error().context(what);
    if (auto st = txn->commit(); !st) return std::move(st).error().context(what);
    return change;
  }

  Result<std::vector<UsageEvent>> usage(std::string_view sandbox, int64_t after_id, size_t limit) override {
    auto q = db_.prepare("SELECT " + std::string(kEventColumns) +
                         " FROM usage_events WHERE sandbox_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox);
    q->bind(2, after_id);
    q->bind(3, static_cast<int64_t>(std::min<size_t>(limit, std::numeric_limits<int64_t>::max())));
    std::vector<UsageEvent> out;
    for (;;) {
      auto row = q->step();
      if (!row) return std::move(row).error().context("reading the usage of " + std::string(sandbox));
      if (!*row) break;
      out.push_back(eventAt(*q));
    }
    return out;
  }

  Result<std::vector<ModelSpend>> spendByModel(std::string_view sandbox) override {
    auto q = db_.prepare(
        "SELECT provider, model, count(*), sum(input_tokens), sum(output_tokens), sum(cache_write_5m_tokens),"
        " sum(cache_write_1h_tokens), sum(cache_read_tokens), sum(reasoning_tokens), sum(web_search_requests),"
        " sum(cost_micros) FROM usage_events WHERE sandbox_id = ?1 AND pool = 'ai'"
        " GROUP BY provider, model ORDER BY sum(cost_micros) DESC, provider, model");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox);
    std::vector<ModelSpend> out;
    for (;;) {
      auto row = q->step();
      if (!row) return std::move(row).error().context("reading the spend of " + std::string(sandbox));
      if (!*row) break;
      ModelSpend m;
      int c = 0;
      m.provider = q->textAt(c++);
      m.model = q->textAt(c++);
      m.calls = q->int64At(c++);
      m.input_tokens = q->int64At(c++);
      m.output_tokens = q->int64At(c++);
      m.cache_write_5m_tokens = q->int64At(c++);
      m.cache_write_1h_tokens = q->int64At(c++);
      m.cache_read_tokens = q->int64At(c++);
      m.reasoning_tokens = q->int64At(c++);
      m.web_search_requests = q->int64At(c++);
      m.cost = q->int64At(c++);
      out.push_back(std::move(m));
    }
    return out;
  }

  Result<std::vector<Reservation>> reservations(std::string_view sandbox) override {
    auto q = db_.prepare("SELECT id, pool, amount_micros, at_ms FROM reservations WHERE sandbox_id = ?1 ORDER BY id");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox);
    std::vector<Reservation> out;
    for (;;) {
      auto row = q->step();
      if (!row) return std::move(row).error().context("reading the reservations of " + std::string(sandbox));
      if (!*row) break;
      out.push_back({q->int64At(0), std::string(sandbox), parsePool(q->textAt(1)).value_or(Pool::kAi), q->int64At(2),
                     q->int64At(3)});
    }
    return out;
  }

  Status removePools(std::string_view sandbox) override {
    const std::string what = "removing the budget of " + std::string(sandbox);
    auto txn = begin();
    if (!txn) return std::move(txn).error().context(what);
    for (const char* sql : {"DELETE FROM reservations WHERE sandbox_id = ?1", "DELETE FROM budget_pools WHERE sandbox_id = ?1"}) {
      auto del = db_.prepare(sql);
      if (!del) return std::move(del).error().context(what);
      del->bind(1, sandbox);
      if (auto st = del->run(); !st) return std::move(st).error().context(what);
    }
    return txn->commit();
  }

 private:
  Result<std::optional<PoolState>> read(std::string_view sandbox, Pool pool) {
    auto q = db_.prepare(
        "SELECT limit_micros, spent_micros, reserved_micros, warning_ppm, warned FROM budget_pools"
        " WHERE sandbox_id = ?1 AND pool = ?2");
    if (!q) return std::move(q).error();
    q->bind(1, sandbox);
    q->bind(2, poolName(pool));
    auto row = q->step();
    if (!row) return std::move(row).error().context("reading the budget of " + std::string(sandbox));
    if (!*row) return std::optional<PoolState>();
    PoolState p;
    p.limit = q->int64At(0);
    p.spent = q->int64At(1);
    p.reserved = q->int64At(2);
    p.warning_threshold = q->int64At(3);
    p.warned = q->int64At(4) != 0;
    (void)q->run();
    return std::optional<PoolState>(p);
  }

  // Inside a write transaction.
  Status write(std::string_view sandbox, Pool pool, const PoolState& p) {
    auto st = db_.prepare(
        "INSERT INTO budget_pools (sandbox_id, pool, limit_micros, spent_micros, reserved_micros, warning_ppm, warned)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (sandbox_id, pool) DO UPDATE SET"
        " limit_micros = ?3, spent_micros = ?4, reserved_micros = ?5, warning_ppm = ?6, warned = ?7");
    if (!st) return std::move(st).error();
    st->bind(1, sandbox);
    st->bind(2, poolName(pool));
    st->bind(3, p.limit);
    st->bind(4, p.spent);
    st->bind(5, p.reserved);
    st->bind(6, p.warning_threshold);
    st->bind(7, int64_t{p.warned ? 1 : 0});
    return st->run();
  }

  // Inside a write transaction: deletes reservation `id` and gives its amount back to its
  // pool; nullopt when there is none.
  // With give_back_later the pool is left as it is: spend() gives the amount back with the
  // same write (one read and one write of the pool per settle).
  Result<std::optional<Reservation>> take(int64_t id, bool give_back_later = false) {
    auto del = db_.prepare("DELETE FROM reservations WHERE id = ?1 RETURNING sandbox_id, pool, amount_micros, at_ms");
    if (!del) return std::move(del).error();
    del->bind(1, id);
    auto row = del->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<Reservation>();
    Reservation r{id, del->textAt(0), parsePool(del->textAt(1)).value_or(Pool::kAi), del->int64At(2), del->int64At(3)};
    if (auto st = del->run(); !st) return std::move(st).error();
    if (!give_back_later) {
      auto now = read(r.sandbox_id, r.pool);
      if (!now) return std::move(now).error();
      if (*now) {
        PoolState p = **now;
        p.reserved = p.reserved > r.amount ? p.reserved - r.amount : 0;
        KM_TRY(write(r.sandbox_id, r.pool, p));
      }
    }
    return std::optional<Reservation>(std::move(r));
  }

  // Inside a write transaction: records `e` and adds its cost to its pool, giving back
  // `released` of the pool's reservations with the same write.
  Result<PoolChange> spend(UsageEvent& e, Micros released = 0) {
    auto ins = db_.prepare(
        "INSERT INTO usage_events (sandbox_id, pool, at_ms, provider, api, model, request_id, input_tokens,"
        " output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, reasoning_tokens,"
        " web_search_requests, cost_micros, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
        " ?14, ?15, ?16)");
    if (!ins) return std::move(ins).error();
    int c = 1;
    ins->bind(c++, e.sandbox_id);
    ins->bind(c++, poolName(e.pool));
    ins->bind(c++, e.at_ms);
    ins->bind(c++, e.provider);
    ins->bind(c++, e.api);
    ins->bind(c++, e.model);
    ins->bind(c++, e.request_id);
    ins->bind(c++, e.input_tokens);
    ins->bind(c++, e.output_tokens);
    ins->bind(c++, e.cache_write_5m_tokens);
    ins->bind(c++, e.cache_write_1h_tokens);
    ins->bind(c++, e.cache_read_tokens);
    ins->bind(c++, e.reasoning_tokens);
    ins->bind(c++, e.web_search_requests);
    ins->bind(c++, e.cost);
    ins->bind(c++, e.note);
    KM_TRY(ins->run());
    auto now = read(e.sandbox_id, e.pool);
    if (!now) return std::move(now).error();
    PoolState before = *now ? **now : PoolState{};
    before.reserved = before.reserved > released ? before.reserved - released : 0;
    PoolChange change = addSpend(before, e.cost);
    KM_TRY(write(e.sandbox_id, e.pool, change.pool));
    return change;
  }

  Result<Scope> begin() {
    if (batching_) return Scope(std::nullopt);
    auto txn = WriteTxn::begin(db_);
    if (!txn) return std::move(txn).error();
    return Scope(std::move(*txn));
  }

  Db db_;
  bool batching_ = false;
};

}  // namespace

Result<std::unique_ptr<Ledger>> openSqliteLedger(const std::string& path) {
  auto db = sqlite::openDatabase(path);
  if (!db) return std::move(db).error();
  return std::unique_ptr<Ledger>(std::make_unique<SqliteLedger>(std::move(*db)));
}

}  // namespace km::store
