// What the sandbox commands share (private to cli): the fleet environment from the global
// flags, the store, resolving SB arguments, and the printed/JSON view of a sandbox.
#pragma once

#include <memory>
#include <string>

#include "cli/context.h"
#include "doc/node.h"
#include "fleet/fleet.h"
#include "store/ledger.h"
#include "store/store.h"

namespace km::cli {

fleet::Env fleetEnv(Context& ctx);

// fleetEnv plus the operator config's `disk` settings, for the commands that make sandboxes
// (create, clone). On a config problem prints it and returns nullopt.
std::optional<fleet::Env> creatingEnv(Context& ctx);

// After a create or clone: one line on stderr when this home's disk limits are not enforced.
void warnUnenforcedDisks(Context& ctx);

// Opens the store; on failure prints the error and returns nullptr.
std::unique_ptr<store::FleetStore> openFleet(Context& ctx);

// A store opened on its first use: `km create` without --alias first touches it while the
// supervisor builds the sandbox, so opening the database costs no wall time.
std::unique_ptr<store::FleetStore> lazyFleet(Context& ctx);

// Resolves SB (id, alias, N or #N); on failure prints and returns nullopt.
std::optional<store::SandboxRecord> resolveOrPrint(store::FleetStore& store, const std::string& ref);

// Prints "ERROR: <message>" and returns kExitFailed.
int printFailure(const Error& e);

// "running", "running (unsupervised)", "lost"… as list and status show it.
std::string displayStatus(const store::SandboxRecord& r, const fleet::Health& h);

// "2h14m", "45s"; "-" for ≤ 0 when `dash`.
std::string shortDuration(int64_t ms);

// The spend ledger of the home (its fleet database); on failure prints the error and returns
// nullptr.
std::unique_ptr<store::Ledger> openLedger(Context& ctx);
// "2026-12-07T17:00:00Z" for a time in ms since the epoch ("" for 0).
std::string isoTimeUtc(int64_t ms);

// The status object of `km status --json` and `km create --json`; with `ledger`, its budget
// (budget.ai, budget.compute: limitUSD, spentUSD, reservedUSD, warningThreshold; null when the
// sandbox has no such pool) and spend.byModel.
doc::Node statusJson(store::FleetStore& store, const store::SandboxRecord& r, store::Ledger* ledger = nullptr);

// "$0.974904 / $1.00 (97.5%)" for a pool ("$0.97 spent, no cap" when uncapped).
std::string spendLine(const store::PoolState& p);

}  // namespace km::cli
