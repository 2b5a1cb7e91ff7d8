// The FleetStore contract (store/store.h), run against every implementation: the SQLite store
// and the in-memory FakeFleetStore other modules' tests rely on. Behaviour only SQLite has
// (files, WAL, schema versions, processes) is in sqlite_store_test.cc and concurrency_test.cc.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_fleet_store.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "unit/store/records.h"

namespace km::store {
namespace {

using km::test::expectSameRecord;
using km::test::sampleRecord;

struct SqliteBackend {
  static std::string name() { return "Sqlite"; }
  std::unique_ptr<FleetStore> make() {
    auto opened = openSqlite(dir.path() + "/fleet.db");
    EXPECT_TRUE(opened) << opened.error().message();
    return opened ? std::move(*opened) : nullptr;
  }
  km::test::ScopedTempDir dir;
};

struct FakeBackend {
  static std::string name() { return "Fake"; }
  std::unique_ptr<FleetStore> make() { return std::make_unique<km::test::FakeFleetStore>(); }
};

struct BackendName {
  template <class T>
  static std::string GetName(int) { return T::name(); }
};

template <class Backend>
class FleetStoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = backend_.make();
    ASSERT_NE(store_, nullptr);
  }

  FleetStore& store() { return *store_; }

  SandboxRecord add(const std::string& id, std::optional<std::string> alias = std::nullopt) {
    auto r = store().insert(sampleRecord(id, std::move(alias)));
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : SandboxRecord{};
  }

  std::vector<std::string> listedIds() {
    std::vector<std::string> ids;
    auto all = store().list();
    EXPECT_TRUE(all) << all.error().message();
    if (all) {
      for (const auto& r : *all) ids.push_back(r.id + "#" + std::to_string(r.number));
    }
    return ids;
  }

  SandboxRecord stored(const std::string& id) {
    auto got = store().get(id);
    EXPECT_TRUE(got && *got) << id;
    return got && *got ? **got : SandboxRecord{};
  }

  Backend backend_;
  std::unique_ptr<FleetStore> store_;
};

using Backends = ::testing::Types<SqliteBackend, FakeBackend>;
TYPED_TEST_SUITE(FleetStoreContractTest, Backends, BackendName);

// --- insert, get, list -------------------------------------------------------------------

TYPED_TEST(FleetStoreContractTest, InsertStoresEveryFieldAndAssignsNumberAndTimes) {
  SandboxRecord in = sampleRecord("sb-1234abcd", "web");
  in.number = 77;  // ignored: the store assigns numbers
  const int64_t before = nowMs();
  auto out = this->store().insert(in);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->number, 1);
  EXPECT_GE(out->created_at_ms, before);
  EXPECT_EQ(out->updated_at_ms, out->created_at_ms);
  in.number = 1;
  in.created_at_ms = out->created_at_ms;
  in.updated_at_ms = out->updated_at_ms;
  expectSameRecord(*out, in);
  expectSameRecord(this->stored("sb-1234abcd"), in);
}

TYPED_TEST(FleetStoreContractTest, InsertKeepsTimesTheCallerSet) {
  SandboxRecord in = sampleRecord("sb-1");
  in.created_at_ms = 1000;
  in.updated_at_ms = 2000;
  ASSERT_TRUE(this->store().insert(in));
  EXPECT_EQ(this->stored("sb-1").created_at_ms, 1000);
  EXPECT_EQ(this->stored("sb-1").updated_at_ms, 2000);
}

TYPED_TEST(FleetStoreContractTest, GetOfAnUnknownIdIsEmptyNotAnError) {
  auto got = this->store().get("sb-nope");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_FALSE(*got);
}

TYPED_TEST(FleetStoreContractTest, ListIsOrderedByNumberNotById) {
  this->add("sb-c");
  this->add("sb-a");
  this->add("sb-b");
  EXPECT_EQ(this->listedIds(), (std::vector<std::string>{"sb-c#1", "sb-a#2", "sb-b#3"}));
  ASSERT_TRUE(this->store().remove("sb-c"));
  this->add("sb-d");
  EXPECT_EQ(this->listedIds(), (std::vector<std::string>{"sb-d#1", "sb-a#2", "sb-b#3"}));
}

TYPED_TEST(FleetStoreContractTest, InsertReusesTheLowestFreeNumber) {
  for (const char* id : {"sb-1", "sb-2", "sb-3", "sb-4"}) this->add(id);
  ASSERT_TRUE(this->store().remove("sb-3"));
  ASSERT_TRUE(this->store().remove("sb-2"));
  EXPECT_EQ(this->add("sb-5").number, 2);
  EXPECT_EQ(this->add("sb-6").number, 3);
  EXPECT_EQ(this->add("sb-7").number, 5);
}

TYPED_TEST(FleetStoreContractTest, InsertRefusesAnExistingId) {
  this->add("sb-1", "web");
  auto again = this->store().insert(sampleRecord("sb-1"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(again.error().message().find("sb-1"), std::string::npos);
  EXPECT_EQ(this->stored("sb-1").alias, "web");  // the first row is untouched
}

TYPED_TEST(FleetStoreContractTest, InsertRefusesATakenAliasNamingItsOwner) {
  this->add("sb-1234abcd", "web");
  auto clash = this->store().insert(sampleRecord("sb-2", "web"));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(clash.error().message().find("alias 'web' is already used by sb-1234abcd"),
            std::string::npos)
      << clash.error().message();
  EXPECT_EQ(this->listedIds(), (std::vector<std::string>{"sb-1234abcd#1"}));
}

TYPED_TEST(FleetStoreContractTest, ManySandboxesMayHaveNoAlias) {
  this->add("sb-1");
  this->add("sb-2");
  EXPECT_EQ(this->listedIds().size(), 2u);
}

TYPED_TEST(FleetStoreContractTest, InsertRefusesAnEmptyIdOrAlias) {
  auto no_id = this->store().insert(sampleRecord(""));
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.error().code(), ErrorCode::kInvalidArgument);
  auto empty_alias = this->store().insert(sampleRecord("sb-1", ""));
  ASSERT_FALSE(empty_alias);
  EXPECT_EQ(empty_alias.error().code(), ErrorCode::kInvalidArgument);
}

// --- resolve -----------------------------------------------------------------------------

TYPED_TEST(FleetStoreContractTest, ResolveFindsByIdAliasAndNumber) {
  this->add("sb-1");
  this->add("sb-2");
  this->add("sb-3", "web");
  for (const char* ref : {"sb-3", "web", "3", "#3"}) {
    auto r = this->store().resolve(ref);
    ASSERT_TRUE(r) << ref << ": " << r.error().message();
    EXPECT_EQ(r->id, "sb-3") << ref;
  }
}

TYPED_TEST(FleetStoreContractTest, ResolvePrefersIdThenAliasThenNumber) {
  this->add("sb-a");                 // #1
  this->add("sb-b", "sb-a");         // an alias equal to another sandbox's id
  this->add("sb-c", "1");            // an alias that looks like a number
  EXPECT_EQ(this->store().resolve("sb-a")->id, "sb-a");
  EXPECT_EQ(this->store().resolve("1")->id, "sb-c");
  EXPECT_EQ(this->store().resolve("#1")->id, "sb-a");
}

TYPED_TEST(FleetStoreContractTest, ResolveOfAnUnknownRefIsNotFoundSuggestingList) {
  this->add("sb-1");
  for (const char* ref : {"nope", "#9", "9", "0", "#0", "#", "", "1x", "-1", "#-1", " 1"}) {
    auto r = this->store().resolve(ref);
    ASSERT_FALSE(r) << "'" << ref << "' resolved to " << r->id;
    EXPECT_EQ(r.error().code(), ErrorCode::kNotFound) << ref;
    EXPECT_EQ(r.error().message(), "no sandbox '" + std::string(ref) + "' (see `km list`)");
  }
}

// --- modify ------------------------------------------------------------------------------

TYPED_TEST(FleetStoreContractTest, ModifyWritesTheChangeAndStampsUpdatedTime) {
  SandboxRecord in = sampleRecord("sb-1");
  in.updated_at_ms = 1000;
  ASSERT_TRUE(this->store().insert(in));
  auto out = this->store().modify("sb-1", [](SandboxRecord& r) {
    r.status = SandboxStatus::kStopped;
    r.locked = false;
    r.alias = "renamed";
    r.updated_at_ms = 5;  // the store's own stamp wins
    return ok();
  });
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->status, SandboxStatus::kStopped);
  EXPECT_GT(out->updated_at_ms, 1000);
  expectSameRecord(this->stored("sb-1"), *out);
  EXPECT_EQ(this->store().resolve("renamed")->id, "sb-1");
}

TYPED_TEST(FleetStoreContractTest, ModifyWritesNothingWhenTheChangeFails) {
  SandboxRecord before = this->add("sb-1", "web");
  auto out = this->store().modify("sb-1", [](SandboxRecord& r) {
    r.status = SandboxStatus::kFailed;  // edits made before failing must not be written
    r.alias = std::nullopt;
    return Status(permissionDenied("sandbox is locked"));
  });
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(out.error().message(), "sandbox is locked");  // returned as it is
  expectSameRecord(this->stored("sb-1"), before);
}

TYPED_TEST(FleetStoreContractTest, ModifyRefusesToChangeTheIdOrNumber) {
  SandboxRecord before = this->add("sb-1");
  auto new_id = this->store().modify("sb-1", [](SandboxRecord& r) {
    r.id = "sb-2";
    return ok();
  });
  ASSERT_FALSE(new_id);
  EXPECT_EQ(new_id.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(new_id.error().message().find("id of sandbox sb-1"), std::string::npos);
  auto new_number = this->store().modify("sb-1", [](SandboxRecord& r) {
    r.number = 7;
    return ok();
  });
  ASSERT_FALSE(new_number);
  EXPECT_EQ(new_number.error().code(), ErrorCode::kInvalidArgument);
  expectSameRecord(this->stored("sb-1"), before);
  EXPECT_FALSE(*this->store().get("sb-2"));
}

TYPED_TEST(FleetStoreContractTest, ModifyKeepsAliasesUnique) {
  this->add("sb-1", "web");
  SandboxRecord two = this->add("sb-2", "db");
  auto clash = this->store().modify("sb-2", [](SandboxRecord& r) {
    r.alias = "web";
    r.locked = false;
    return ok();
  });
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(clash.error().message().find("alias 'web' is already used by sb-1"), std::string::npos);
  expectSameRecord(this->stored("sb-2"), two);

  // Keeping one's own alias is fine; a freed alias can be taken.
  EXPECT_TRUE(this->store().modify("sb-1", [](SandboxRecord&) { return ok(); }));
  ASSERT_TRUE(this->store().modify("sb-1", [](SandboxRecord& r) {
    r.alias.reset();
    return ok();
  }));
  auto taken = this->store().modify("sb-2", [](SandboxRecord& r) {
    r.alias = "web";
    return ok();
  });
  ASSERT_TRUE(taken) << taken.error().message();
  EXPECT_EQ(this->store().resolve("web")->id, "sb-2");
}

TYPED_TEST(FleetStoreContractTest, ModifyOfAMissingRowIsNotFoundWithoutCallingChange) {
  bool called = false;
  auto out = this->store().modify("sb-gone", [&](SandboxRecord&) {
    called = true;
    return ok();
  });
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(out.error().message().find("sb-gone"), std::string::npos);
  EXPECT_FALSE(called);
}

// --- remove and events -------------------------------------------------------------------

TYPED_TEST(FleetStoreContractTest, RemoveDeletesTheRowButKeepsItsEvents) {
  this->add("sb-1", "web");
  ASSERT_TRUE(this->store().addEvent("sb-1", "created", "profile open-dev"));
  ASSERT_TRUE(this->store().remove("sb-1"));
  EXPECT_FALSE(*this->store().get("sb-1"));
  EXPECT_FALSE(this->store().resolve("web"));
  auto events = this->store().events("sb-1", 10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, "created");
  this->add("sb-2", "web");  // the alias is free again
}

TYPED_TEST(FleetStoreContractTest, RemoveOfAMissingRowIsNotFound) {
  auto st = this->store().remove("sb-gone");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(st.error().message().find("sb-gone"), std::string::npos);
}

TYPED_TEST(FleetStoreContractTest, EventsAreTheNewestOnesOldestFirst) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(this->store().addEvent("sb-1", "kind" + std::to_string(i), "d", 100 + i));
    ASSERT_TRUE(this->store().addEvent("sb-2", "other", "", 0));
  }
  auto last3 = this->store().events("sb-1", 3);
  ASSERT_TRUE(last3) << last3.error().message();
  ASSERT_EQ(last3->size(), 3u);
  EXPECT_EQ((*last3)[0].kind, "kind3");
  EXPECT_EQ((*last3)[1].kind, "kind4");
  EXPECT_EQ((*last3)[2].kind, "kind5");
  EXPECT_EQ((*last3)[2].at_ms, 105);
  EXPECT_EQ((*last3)[2].sandbox_id, "sb-1");
  EXPECT_EQ((*last3)[2].detail, "d");
  EXPECT_LT((*last3)[0].id, (*last3)[1].id);

  auto all = this->store().events("sb-1", 100);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 5u);
  EXPECT_TRUE(this->store().events("sb-1", 0)->empty());
  EXPECT_TRUE(this->store().events("sb-none", 10)->empty());
}

TYPED_TEST(FleetStoreContractTest, EventTimeZeroMeansNow) {
  const int64_t before = nowMs();
  ASSERT_TRUE(this->store().addEvent("sb-1", "started", ""));
  auto events = this->store().events("sb-1", 1);
  ASSERT_TRUE(events && events->size() == 1u);
  EXPECT_GE((*events)[0].at_ms, before);
}

}  // namespace
}  // namespace km::store
