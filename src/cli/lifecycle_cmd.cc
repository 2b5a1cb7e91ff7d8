// km stop | resume | pause | lock | unlock | extend | clone | destroy (kill).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "core/duration.h"
#include "doc/json_io.h"
#include "store/action_quotas.h"
#include "supervisor/supervisor.h"

namespace km::cli {
namespace {

using Action = Status (*)(const fleet::Env&, store::FleetStore&, const std::string&);

// After an action: "ID: done", or with --json the sandbox's status object as it now is.
void printSandbox(Context& ctx, store::FleetStore& store, const std::string& id, std::string_view done) {
  if (!ctx.globals().json) {
    printOut(id + ": " + std::string(done));
    return;
  }
  auto now = store.get(id);
  if (now && now->has_value()) {
    printOut(doc::toJson(statusJson(store, **now)));
  } else {  // gone meanwhile (an automatic destroy): still one object
    doc::Node o = doc::Node::map();
    o.set("id", doc::Node::string(id));
    o.set("status", doc::Node::string("destroyed"));
    printOut(doc::toJson(o));
  }
}

// The common shape: resolve SB, run one fleet call, say what happened.
int simple(Context& ctx, const std::string& ref, Action action, std::string_view done) {
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto r = resolveOrPrint(*store, ref);
  if (!r) return kExitFailed;
  if (Status s = action(fleetEnv(ctx), *store, r->id); !s) return printFailure(s.error());
  printSandbox(ctx, *store, r->id, done);
  return kExitOk;
}

Handler installSimple(CLI::App& sub, Context& ctx, Action action, std::string_view done) {
  auto ref = std::make_shared<std::string>();
  sub.add_option("sandbox", *ref, "Sandbox id, alias, or number (3 or #3)")->required();
  return [ref, &ctx, action, done] { return simple(ctx, *ref, action, done); };
}

Status lockAction(const fleet::Env&, store::FleetStore& s, const std::string& id) {
  return fleet::setLocked(s, id, true);
}
Status unlockAction(const fleet::Env& env, store::FleetStore& s, const std::string& id) {
  KM_TRY(fleet::setLocked(s, id, false));
  fleet::noteUnlocked(env, s, id);
  // As upstream, unlock also lifts a freeze of the sandbox's outbound actions (km freeze).
  auto quotas = store::openSqliteActionQuotas(env.km_home + "/fleet.db");
  if (!quotas) return std::move(quotas).error();
  auto lifted = (*quotas)->unfreeze(id);
  if (!lifted) return std::move(lifted).error();
  if (*lifted) (void)s.addEvent(id, "actions-unfrozen", "km unlock");
  return ok();
}

bool confirm(const std::string& question) {
  if (!::isatty(0)) return false;
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  char buf[16] = {};
  if (!std::fgets(buf, sizeof buf, stdin)) return false;
  return buf[0] == 'y' || buf[0] == 'Y';
}

}  // namespace

Handler installStop(CLI::App& sub, Context& ctx) {
  sub.footer("Ends every process of the sandbox; its files (overlay, workspace) are kept. "
             "`km resume` starts it again. Refused while locked.");
  return installSimple(sub, ctx, &fleet::stop, "stopped");
}
Handler installResume(CLI::App& sub, Context& ctx) {
  sub.footer("Thaws a paused sandbox, or starts a stopped one again (the TTL restarts).");
  return installSimple(sub, ctx, &fleet::resume, "running");
}
Handler installPause(CLI::App& sub, Context& ctx) {
  sub.footer("Freezes every process (cgroup freezer): memory is kept and `km resume` is "
             "instant. The TTL keeps counting. Refused while locked.");
  return installSimple(sub, ctx, &fleet::pause, "paused");
}
Handler installLock(CLI::App& sub, Context& ctx) {
  sub.footer("A locked sandbox refuses destroy, stop and pause, and automatic TTL/idle "
             "teardown skips it. Refused for a sandbox already being destroyed.");
  return installSimple(sub, ctx, &lockAction, "locked");
}
Handler installUnlock(CLI::App& sub, Context& ctx) {
  auto yes = std::make_shared<bool>(false);
  sub.add_flag("--yes", *yes, "Accepted for upstream compatibility");
  sub.footer("Removes the lock (km lock) and lifts a freeze of the sandbox's outbound actions (km freeze,\n"
             "or a spec.limits breach with onBreach: freeze).");
  return installSimple(sub, ctx, &unlockAction, "unlocked");
}

Handler installExtend(CLI::App& sub, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  auto dur = std::make_shared<std::string>();
  sub.add_option("sandbox", *ref, "Sandbox id, alias, or number")->required();
  sub.add_option("duration", *dur, "How much longer, e.g. 30m, 2h, 1d")->required();
  sub.footer("Moves the TTL deadline later by DURATION (from the current deadline).");
  return [ref, dur, &ctx] {
    auto secs = parseFlagDuration(*dur);
    if (!secs || secs->count() <= 0) {
      printErr("ERROR: duration: " + (secs ? "\"" + *dur + "\" adds nothing; give a positive duration like 2h"
                                          : secs.error().message()));
      return kExitUsage;
    }
    auto store = openFleet(ctx);
    if (!store) return kExitFailed;
    auto r = resolveOrPrint(*store, *ref);
    if (!r) return kExitFailed;
    auto rec = fleet::extend(*store, r->id, secs->count());
    if (!rec) return printFailure(rec.error());
    printSandbox(ctx, *store, r->id, "TTL now expires in " + shortDuration(rec->ttl_deadline_ms - store::nowMs()));
    return kExitOk;
  };
}

Handler installClone(CLI::App& sub, Context& ctx) {
  struct Args {
    std::string ref;
    std::optional<std::string> alias;
    int count = 1;
    bool no_copy = false;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("sandbox", a->ref, "Source sandbox id, alias, or number")->required();
  sub.add_flag("--no-copy", a->no_copy, "Start each clone with an empty disk (the source's profile only)");
  sub.add_option("--alias", a->alias, "Alias of the clone (with --count: alias-1, alias-2…)");
  sub.add_option("--count", a->count, "How many clones (1-100)")->check(CLI::Range(1, 100));
  sub.footer("New sandboxes from the source's stored profile, each starting with a copy of the\n"
             "source's disk (its changes to the root filesystem, workspace, homes, additional volume):\n"
             "a btrfs snapshot where the disk store is in use, else a copy made while the source is\n"
             "frozen that follows no symlink. Each clone has a user id of its own. Its initCommands\n"
             "run again, as root, over the copied files: an init command that reads the workspace or\n"
             "home trusts whatever the source's agent left there (--no-copy starts from scratch).");
  return [a, &ctx] {
    // The clones' supervisors are forked first, before this process opens the fleet store.
    std::vector<supervisor::Prepared> prepared;
    for (int i = 0; i < a->count; ++i) {
      auto p = supervisor::Prepared::fork();
      if (!p) return printFailure(p.error());
      prepared.push_back(std::move(*p));
    }
    auto store = openFleet(ctx);
    if (!store) return kExitFailed;
    auto env = creatingEnv(ctx);
    if (!env) return kExitFailed;
    auto made = fleet::clone(*env, *store, a->ref, a->alias, a->count, !a->no_copy, prepared);
    if (made) warnUnenforcedDisks(ctx);
    if (!made) return printFailure(made.error());
    if (ctx.globals().json) {
      doc::Node arr = doc::Node::seq();
      for (const auto& r : *made) arr.push(statusJson(*store, r));
      printOut(doc::toJson(arr));
      return kExitOk;
    }
    for (const auto& r : *made) printOut(r.id);
    return kExitOk;
  };
}

Handler installDestroy(CLI::App& sub, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  auto yes = std::make_shared<bool>(false);
  sub.alias("kill");
  sub.add_option("sandbox", *ref, "Sandbox id, alias, or number")->required();
  sub.add_flag("--yes,-y", *yes, "Do not ask for confirmation");
  sub.footer("Ends the sandbox's processes and removes every cgroup, mount and file it made, "
             "and its row. Refused while locked. Asks first unless --yes (or stdin is not a terminal).");
  return [ref, yes, &ctx] {
    auto store = openFleet(ctx);
    if (!store) return kExitFailed;
    auto r = resolveOrPrint(*store, *ref);
    if (!r) return kExitFailed;
    if (!*yes && ::isatty(0) && !confirm("Destroy " + r->id + " and all its files?")) {
      printErr("ERROR: " + r->id + " not destroyed (answer y, or pass --yes)");
      return kExitFailed;
    }
    if (Status s = fleet::destroy(fleetEnv(ctx), *store, r->id); !s) return printFailure(s.error());
    printSandbox(ctx, *store, r->id, "destroyed");
    return kExitOk;
  };
}

}  // namespace km::cli
