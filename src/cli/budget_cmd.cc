// km budget add SB [--ai USD] [--compute USD]: tops up a sandbox's spend pools in the ledger.
#include <CLI/CLI.hpp>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "core/money.h"
#include "doc/json_io.h"

namespace km::cli {
namespace {

struct AddArgs {
  std::string ref;
  std::optional<std::string> ai;
  std::optional<std::string> compute;
};

// Whether the sandbox's last lifecycle step was a suspension for its budget.
bool suspendedByBudget(store::FleetStore& store, const std::string& id) {
  auto events = store.events(id, 200);
  if (!events) return false;
  for (auto it = events->rbegin(); it != events->rend(); ++it) {
    const std::string& k = it->kind;
    if (k == "suspended") return true;
    if (k == "started" || k == "resumed" || k == "created" || k == "adopted") return false;
  }
  return false;
}

int runAdd(const AddArgs& a, Context& ctx) {
  if (!a.ai && !a.compute) {
    printErr("ERROR: km budget add: say how much, with --ai USD and/or --compute USD (e.g. --ai 5)");
    return kExitUsage;
  }
  std::vector<std::pair<store::Pool, Micros>> adds;
  for (auto [pool, text, flag] : {std::tuple{store::Pool::kAi, &a.ai, "--ai"}, std::tuple{store::Pool::kCompute, &a.compute, "--compute"}}) {
    if (!*text) continue;
    auto amount = parseDollars(**text);
    if (!amount || *amount <= 0) {
      printErr(std::string("ERROR: ") + flag + " " + **text + ": " +
               (amount ? "a top-up must be more than $0" : amount.error().message()) + " (e.g. " + flag + " 5 or 2.50)");
      return kExitUsage;
    }
    adds.emplace_back(pool, *amount);
  }
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto r = resolveOrPrint(*store, a.ref);
  if (!r) return kExitFailed;
  auto ledger = openLedger(ctx);
  if (!ledger) return kExitFailed;
  for (const auto& [pool, amount] : adds) {
    auto before = ledger->pool(r->id, pool);
    if (!before) return printFailure(before.error());
    if (!*before) {
      printErr("ERROR: " + r->id + " has no " + std::string(store::poolName(pool)) + " budget (" +
               (pool == store::Pool::kAi ? "its profile sets no spec.budget.ai, so it reaches no AI provider"
                                         : "its profile sets no spec.budget.compute, so its running time is not counted") +
               "); nothing was added");
      return kExitFailed;
    }
    auto after = ledger->addToLimit(r->id, pool, amount);
    if (!after) return printFailure(after.error());
    std::string detail = "$" + formatDollars(amount) + " added to the " + std::string(store::poolName(pool)) +
                         " budget: " + spendLine(*after);
    (void)store->addEvent(r->id, "budget-added", detail);
    if (!ctx.globals().json) printOut(r->id + ": " + detail);
  }
  // A sandbox the budget suspended (paused or stopped, and nothing since) goes on, unless a
  // pool is still used up.
  auto row = store->get(r->id);
  if (row && *row && ((*row)->status == store::SandboxStatus::kStopped || (*row)->status == store::SandboxStatus::kPaused) &&
      suspendedByBudget(*store, r->id)) {
    std::string still;
    for (store::Pool pool : {store::Pool::kAi, store::Pool::kCompute}) {
      auto p = ledger->pool(r->id, pool);
      if (p && *p && (*p)->exhausted()) still += (still.empty() ? "" : " and ") + std::string(store::poolName(pool));
    }
    if (!still.empty()) {
      printErr(r->id + " stays " + std::string(store::statusName((*row)->status)) + ": its " + still +
               " budget is still used up (top it up too)");
    } else if (Status s = fleet::resume(fleetEnv(ctx), *store, r->id); !s) {
      printErr("ERROR: the budget was added, but resuming " + r->id + " failed: " + s.error().message() +
               " (try `km resume " + r->id + "`)");
      return kExitFailed;
    } else if (!ctx.globals().json) {
      printOut(r->id + ": resumed");
    }
  }
  if (ctx.globals().json) {
    auto now = store->get(r->id);
    if (now && *now) printOut(doc::toJson(statusJson(*store, **now, ledger.get())));
  }
  return kExitOk;
}

}  // namespace

Handler installBudget(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<AddArgs>();
  sub.require_subcommand(1);
  CLI::App* add = sub.add_subcommand("add", "Top up a sandbox's AI or compute budget");
  add->add_option("sandbox", a->ref, "Sandbox id, alias, or number")->required();
  add->add_option("--ai", a->ai, "US dollars to add to the AI budget, e.g. 5 or 2.50");
  add->add_option("--compute", a->compute, "US dollars to add to the compute budget");
  add->footer(
      "Raises the pool's limit by the amount (the spend so far is kept). AI calls that were refused\n"
      "at the ceiling go through again at once: the proxy reads the pool on every call. The\n"
      "warning at the threshold is given again when spend crosses it anew. A sandbox that was\n"
      "suspended (paused or stopped) because a pool was used up is resumed once no pool is used\n"
      "up any more. A sandbox whose profile has no AI (or compute) budget has no such pool to add\n"
      "to. See docs/metering.md.");
  return [a, add, &ctx] {
    if (add->parsed()) return runAdd(*a, ctx);
    return kExitUsage;
  };
}

}  // namespace km::cli
