// km freeze SB [--reason R]: refuses the sandbox's outbound actions counted by spec.limits
// (GitHub pull requests, comments, reviews) until `km unlock`; the sandbox keeps running. And
// the counts km status shows.
#include <CLI/CLI.hpp>

#include <algorithm>

#include "cli/actions.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "core/strings.h"
#include "store/action_quotas.h"

namespace km::cli {

doc::Node actionsJson(const std::string& km_home, const std::string& id, const std::vector<plan::ActionQuota>& quotas) {
  auto q = store::openSqliteActionQuotas(km_home + "/fleet.db");
  if (!q) return doc::Node::null();
  auto counts = (*q)->counts(id, store::nowMs());
  auto frozen = (*q)->frozen(id);
  if (!counts || !frozen) return doc::Node::null();
  doc::Node out = doc::Node::map();
  doc::Node list = doc::Node::seq();
  std::vector<std::string> seen;
  auto add = [&](const std::string& action, int64_t lifetime, int64_t hour, int64_t day) {
    doc::Node c = doc::Node::map();
    c.set("action", doc::Node::string(action));
    c.set("lifetime", doc::Node::integer(lifetime));
    c.set("hour", doc::Node::integer(hour));
    c.set("day", doc::Node::integer(day));
    doc::Node limit = doc::Node::null();
    for (const auto& quota : quotas) {
      if (quota.action != action) continue;
      limit = doc::Node::map();
      limit.set("lifetime", doc::Node::integer(quota.lifetime));
      limit.set("perHour", doc::Node::integer(quota.per_hour));
      limit.set("perDay", doc::Node::integer(quota.per_day));
      limit.set("onBreach", doc::Node::string(quota.on_breach));
    }
    c.set("limit", std::move(limit));
    list.push(std::move(c));
    seen.push_back(action);
  };
  for (const auto& c : *counts) add(c.action, c.lifetime, c.hour, c.day);
  for (const auto& quota : quotas) {
    if (std::find(seen.begin(), seen.end(), quota.action) == seen.end()) add(quota.action, 0, 0, 0);
  }
  out.set("counts", std::move(list));
  if (*frozen) {
    doc::Node f = doc::Node::map();
    f.set("reason", doc::Node::string((*frozen)->reason));
    f.set("at", doc::Node::string(isoTimeUtc((*frozen)->at_ms)));
    out.set("frozen", std::move(f));
  } else {
    out.set("frozen", doc::Node::null());
  }
  return out;
}

std::vector<std::string> actionLines(const doc::Node& actions) {
  std::vector<std::string> out;
  if (!actions.isMap()) return out;
  if (const doc::Node* f = actions.find("frozen"); f && f->isMap()) {
    out.push_back("  FROZEN since " + f->find("at")->text() + ": " +
                  escapeForTerminal(f->find("reason")->text(), /*keep_newlines=*/false) + " (km unlock releases)");
  }
  for (const auto& c : actions.find("counts")->items()) {
    std::string line = "  " + c.find("action")->text() + ": " + c.find("lifetime")->text() + " (" +
                       c.find("hour")->text() + " this hour, " + c.find("day")->text() + " today)";
    if (const doc::Node* l = c.find("limit"); l && l->isMap()) {
      std::vector<std::string> parts;
      if (l->find("lifetime")->text() != "-1") parts.push_back(l->find("lifetime")->text() + " in all");
      if (l->find("perHour")->text() != "-1") parts.push_back(l->find("perHour")->text() + " per hour");
      if (l->find("perDay")->text() != "-1") parts.push_back(l->find("perDay")->text() + " per day");
      line += ", limit " + (parts.empty() ? std::string("none") : join(parts, ", ")) + ", on breach " +
              l->find("onBreach")->text();
    }
    out.push_back(line);
  }
  return out;
}

Handler installFreeze(CLI::App& sub, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  sub.add_option("sandbox", *ref, "Sandbox id, alias, or number (3 or #3)")->required();
  sub.add_option("--reason", *reason, "Why (shown by km status and in every refusal)");
  sub.footer(
      "Refuses every outbound action spec.limits counts (GitHub pull requests, comments and reviews,\n"
      "through REST or GraphQL) with HTTP 429 until `km unlock SB`. The sandbox keeps running; a\n"
      "breach with onBreach: freeze does the same. See docs/source-access.md.");
  return [ref, reason, &ctx] {
    auto store = openFleet(ctx);
    if (!store) return kExitFailed;
    auto r = resolveOrPrint(*store, *ref);
    if (!r) return kExitFailed;
    auto q = store::openSqliteActionQuotas(ctx.globals().home + "/fleet.db");
    if (!q) return printFailure(q.error());
    std::string why = reason->empty() ? "frozen by km freeze" : *reason;
    if (Status st = (*q)->freeze(r->id, why, store::nowMs()); !st) return printFailure(st.error());
    (void)store->addEvent(r->id, "actions-frozen", why);
    printOut(r->id + ": outbound actions frozen (" + why + ")");
    return kExitOk;
  };
}

}  // namespace km::cli
