// Shared by the store tests: a record with every field set, and a field-by-field comparison
// (SandboxRecord has no operator==, and a failure should name the field that differs).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "store/store.h"

namespace km::test {

inline store::SandboxRecord sampleRecord(std::string id,
                                         std::optional<std::string> alias = std::nullopt) {
  store::SandboxRecord r;
  r.id = std::move(id);
  r.alias = std::move(alias);
  r.profile_name = "open-dev";
  r.profile_yaml = "apiVersion: klankermaker.ai/v1alpha2\nkind: SandboxProfile\n";
  r.plan_json = R"({"substrate":"local","quotes":"it's \"here\""})";
  r.substrate = "local";
  r.region = "eu-west-1";
  r.status = store::SandboxStatus::kRunning;
  r.started_at_ms = 1'700'000'000'123;
  r.ttl_deadline_ms = 1'700'000'360'000;
  r.idle_timeout_s = 900;
  r.last_activity_ms = 1'700'000'000'500;
  r.locked = true;
  r.cloned_from = "sb-00000000";
  r.supervisor_pid = 4242;
  r.supervisor_start = UINT64_MAX - 7;  // beyond int64: must round-trip through SQLite
  r.init_pid = 4243;
  r.init_start = 123'456'789;
  return r;
}

inline void expectSameRecord(const store::SandboxRecord& a, const store::SandboxRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.alias, b.alias);
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.profile_name, b.profile_name);
  EXPECT_EQ(a.profile_yaml, b.profile_yaml);
  EXPECT_EQ(a.plan_json, b.plan_json);
  EXPECT_EQ(a.substrate, b.substrate);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.failure, b.failure);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  EXPECT_EQ(a.updated_at_ms, b.updated_at_ms);
  EXPECT_EQ(a.started_at_ms, b.started_at_ms);
  EXPECT_EQ(a.ttl_deadline_ms, b.ttl_deadline_ms);
  EXPECT_EQ(a.idle_timeout_s, b.idle_timeout_s);
  EXPECT_EQ(a.last_activity_ms, b.last_activity_ms);
  EXPECT_EQ(a.locked, b.locked);
  EXPECT_EQ(a.cloned_from, b.cloned_from);
  EXPECT_EQ(a.supervisor_pid, b.supervisor_pid);
  EXPECT_EQ(a.supervisor_start, b.supervisor_start);
  EXPECT_EQ(a.init_pid, b.init_pid);
  EXPECT_EQ(a.init_start, b.init_start);
}

}  // namespace km::test
