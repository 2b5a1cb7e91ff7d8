// Outbound actions under spec.limits, for the CLI (private to cli): km freeze, and what km
// status shows of the counts and the freeze.
#pragma once

#include <string>
#include <vector>

#include "doc/node.h"
#include "plan/plan.h"

namespace km::cli {

// {"counts": [{"action", "lifetime", "hour", "day", "limit": {…}|null}], "frozen": null|{"reason", "at"}};
// null when the store cannot be read.
doc::Node actionsJson(const std::string& km_home, const std::string& id, const std::vector<plan::ActionQuota>& quotas);
// The same as status lines ("  github_pr: 2 (1 this hour, 2 today), limit 3 per hour, block").
std::vector<std::string> actionLines(const doc::Node& actions);

}  // namespace km::cli
