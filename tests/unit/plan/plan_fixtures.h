// Profiles and options shared by the plan tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "plan/plan.h"
#include "profile/profile.h"
#include "support/profile_fixtures.h"

namespace km::plan::test {

// `yaml` loaded (built-ins resolvable through extends), checked valid, defaults applied.
inline profile::Profile profileFrom(std::string_view yaml) {
  profile::Loaded l = profile::loadText(yaml, "test.yaml", {});
  EXPECT_TRUE(l.ok()) << yaml;
  for (const auto& d : l.diagnostics.all()) ADD_FAILURE() << d.format();
  return profile::withDefaults(l.profile);
}

// The shared complete profile: ec2, t3.small, ttl 4h, idle 1h, destroy, one suffix, one host.
inline profile::Profile completeProfile() { return profileFrom(km::test::kCompleteProfile); }

inline CompileOptions optionsWithId(std::string id = "sb-0123abcd") {
  CompileOptions o;
  o.id = std::move(id);
  return o;
}

}  // namespace km::plan::test
