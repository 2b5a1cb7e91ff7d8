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
                                         : "compute spend is not metered by this build") +
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
      "warning at the threshold is given again when spend crosses it anew. A sandbox whose\n"
      "profile has no AI budget has no pool to add to. Compute spend is not metered by this\n"
      "build yet. See docs/metering.md.");
  return [a, add, &ctx] {
    if (add->parsed()) return runAdd(*a, ctx);
    return kExitUsage;
  };
}

}  // namespace km::cli
