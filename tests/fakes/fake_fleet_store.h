// FakeFleetStore: an in-memory FleetStore for tests of code that uses the store (CLI commands,
// the scheduler, the supervisor). It keeps the same contract as the SQLite store — the
// contract suite in tests/unit/store runs against both — and can fail on demand:
// failNext(error) makes the next call return that error and change nothing. A fixed clock
// (setNowMs) makes created/updated times and event times predictable.
// Not thread-safe, like every FleetStore object.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace km::test {

class FakeFleetStore final : public store::FleetStore {
 public:
  using SandboxRecord = store::SandboxRecord;
  using Event = store::Event;

  // The next call (any method) returns `error` and changes nothing; later calls work again.
  void failNext(Error error) { fail_next_ = std::move(error); }
  // Times the store writes come from here instead of the system clock; 0 = system clock.
  void setNowMs(int64_t ms) { now_ms_ = ms; }
  // How many calls the store has had (failed ones included).
  int callCount() const { return calls_; }

  Result<SandboxRecord> insert(SandboxRecord r) override {
    if (auto e = takeFailure()) return std::move(*e);
    if (r.id.empty()) return invalidArgument("a sandbox id cannot be empty");
    if (rows_.count(r.id)) return invalidArgument("sandbox id '" + r.id + "' already exists");
    if (auto st = checkAliasFree(r.alias, r.id); !st) return std::move(st).error();
    r.number = lowestFreeNumber();
    if (r.created_at_ms == 0) r.created_at_ms = now();
    if (r.updated_at_ms == 0) r.updated_at_ms = now();
    rows_[r.id] = r;
    return r;
  }

  Result<std::optional<SandboxRecord>> get(std::string_view id) override {
    if (auto e = takeFailure()) return std::move(*e);
    auto it = rows_.find(id);
    if (it == rows_.end()) return std::optional<SandboxRecord>();
    return std::optional<SandboxRecord>(it->second);
  }

  Result<SandboxRecord> resolve(std::string_view ref) override {
    if (auto e = takeFailure()) return std::move(*e);
    if (auto it = rows_.find(ref); it != rows_.end()) return it->second;
    for (const auto& [id, r] : rows_) {
      if (r.alias && *r.alias == ref) return r;
    }
    if (auto n = parseNumber(ref)) {
      for (const auto& [id, r] : rows_) {
        if (r.number == *n) return r;
      }
    }
    return notFound("no sandbox '" + std::string(ref) + "' (see `km list`)");
  }

  Result<std::vector<SandboxRecord>> list() override {
    if (auto e = takeFailure()) return std::move(*e);
    std::vector<SandboxRecord> out;
    for (const auto& [id, r] : rows_) out.push_back(r);
    std::sort(out.begin(), out.end(),
              [](const SandboxRecord& a, const SandboxRecord& b) { return a.number < b.number; });
    return out;
  }

  Result<SandboxRecord> modify(std::string_view id,
                               const std::function<Status(SandboxRecord&)>& change) override {
    if (auto e = takeFailure()) return std::move(*e);
    auto it = rows_.find(id);
    if (it == rows_.end()) return notFound("no sandbox '" + std::string(id) + "' (see `km list`)");
    const SandboxRecord& before = it->second;
    SandboxRecord after = before;
    if (auto st = change(after); !st) return std::move(st).error();
    if (after.id != before.id) {
      return invalidArgument("the id of sandbox " + before.id + " cannot be changed (to '" +
                             after.id + "')");
    }
    if (after.number != before.number) {
      return invalidArgument("the number of sandbox " + before.id + " cannot be changed (#" +
                             std::to_string(before.number) + " to #" +
                             std::to_string(after.number) + ")");
    }
    if (after.alias != before.alias) {
      if (auto st = checkAliasFree(after.alias, after.id); !st) return std::move(st).error();
    }
    after.updated_at_ms = now();
    it->second = after;
    return after;
  }

  Status remove(std::string_view id) override {
    if (auto e = takeFailure()) return std::move(*e);
    auto it = rows_.find(id);
    if (it == rows_.end()) return notFound("no sandbox '" + std::string(id) + "' (see `km list`)");
    rows_.erase(it);
    return ok();
  }

  Status addEvent(std::string_view sandbox_id, std::string_view kind, std::string_view detail,
                  int64_t at_ms = 0) override {
    if (auto e = takeFailure()) return std::move(*e);
    events_.push_back(Event{next_event_id_++, std::string(sandbox_id), at_ms ? at_ms : now(),
                            std::string(kind), std::string(detail)});
    return ok();
  }

  Result<std::vector<Event>> events(std::string_view sandbox_id, size_t limit) override {
    if (auto e = takeFailure()) return std::move(*e);
    std::vector<Event> out;
    for (auto it = events_.rbegin(); it != events_.rend() && out.size() < limit; ++it) {
      if (it->sandbox_id == sandbox_id) out.push_back(*it);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  std::optional<Error> takeFailure() {
    ++calls_;
    return std::exchange(fail_next_, std::nullopt);
  }

  int64_t now() const { return now_ms_ ? now_ms_ : store::nowMs(); }

  Status checkAliasFree(const std::optional<std::string>& alias, const std::string& self_id) {
    if (!alias) return ok();
    if (alias->empty()) return invalidArgument("an alias cannot be empty");
    for (const auto& [id, r] : rows_) {
      if (id != self_id && r.alias == alias) {
        return invalidArgument("alias '" + *alias + "' is already used by " + id);
      }
    }
    return ok();
  }

  int lowestFreeNumber() const {
    for (int n = 1;; ++n) {
      bool used = std::any_of(rows_.begin(), rows_.end(),
                              [n](const auto& kv) { return kv.second.number == n; });
      if (!used) return n;
    }
  }

  // "3" or "#3" → 3, as the SQLite store reads local numbers.
  static std::optional<int> parseNumber(std::string_view ref) {
    if (!ref.empty() && ref.front() == '#') ref.remove_prefix(1);
    if (ref.empty() || ref.size() > 9) return std::nullopt;
    int n = 0;
    for (char c : ref) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    return n > 0 ? std::optional<int>(n) : std::nullopt;
  }

  std::map<std::string, SandboxRecord, std::less<>> rows_;
  std::vector<Event> events_;
  int64_t next_event_id_ = 1;
  int64_t now_ms_ = 0;
  int calls_ = 0;
  std::optional<Error> fail_next_;
};

}  // namespace km::test
