// km doctor [--fix]: what this host can enforce, and drift between the store and the kernel.
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/doctor_credentials.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "doc/json_io.h"
#include "net/proxy/proxy.h"
#include "supervisor/supervisor.h"

namespace km::cli {

Handler installDoctor(CLI::App& sub, Context& ctx) {
  auto fix = std::make_shared<bool>(false);
  sub.add_flag("--fix", *fix, "Repair what is found (restart supervisors, remove leaks)");
  sub.footer("Reports which limits this host enforces (cgroup v2, v1 or none per controller) and\n"
             "finds dead supervisors, lost sandboxes, half-destroyed sandboxes, leaked cgroups (and\n"
             "supervisors left in them), mounts, disks, uid claims, eBPF pins, orphan directories,\n"
             "and host rules (table inet km) missing or of another km version.\n"
             "Checks the operator's credentials: each secrets file, the GitHub token file, the\n"
             "GitHub App's key and each installation (a real token request to GitHub's API).\n"
             "Exit 1 when problems remain.");
  return [fix, &ctx] {
    fleet::HostLimits hl = fleet::hostLimits(fleetEnv(ctx));
    auto store = openFleet(ctx);
    if (!store) return kExitFailed;
    auto findings = fleet::doctor(fleetEnv(ctx), *store, *fix);
    if (!findings) return printFailure(findings.error());
    std::vector<CredentialCheck> credentials;
    if (const config::Config* c = ctx.config()) credentials = checkCredentials(*c, ctx.globals().home);
    for (const auto& c : credentials) {
      if (!c.problem.empty()) findings->push_back({c.subject, c.problem, "", false});
    }
    bool open = false;
    for (const auto& f : *findings) open = open || !f.fixed;
    if (ctx.globals().json) {
      doc::Node o = doc::Node::map();
      doc::Node lim = doc::Node::map();
      lim.set("memory", doc::Node::string(hl.memory));
      lim.set("cpu", doc::Node::string(hl.cpu));
      lim.set("pids", doc::Node::string(hl.pids));
      lim.set("freezer", doc::Node::string(hl.freezer));
      lim.set("disk", doc::Node::string(hl.disk));
      lim.set("hybrid", doc::Node::boolean(hl.hybrid));
      o.set("limits", lim);
      o.set("root", doc::Node::boolean(hl.root));
      doc::Node arr = doc::Node::seq();
      for (const auto& f : *findings) {
        doc::Node x = doc::Node::map();
        x.set("subject", doc::Node::string(f.subject));
        x.set("problem", doc::Node::string(f.problem));
        x.set("action", doc::Node::string(f.action));
        x.set("fixed", doc::Node::boolean(f.fixed));
        arr.push(x);
      }
      o.set("findings", arr);
      printOut(doc::toJson(o));
      return open ? kExitFailed : kExitOk;
    }
    printOut("Limits this host enforces:");
    printOut("  memory   " + hl.memory);
    printOut("  cpu      " + hl.cpu);
    printOut("  pids     " + hl.pids);
    printOut("  freezer  " + hl.freezer + " (km pause)");
    printOut("  disk     " + hl.disk);
    if (hl.hybrid) printOut("  (hybrid cgroup host: limits from v1, grouping from v2)");
    if (!hl.root) printOut("  note: not running as root; the local substrate needs root");
    if (!credentials.empty()) printOut("Operator credentials:");
    for (const auto& c : credentials) printOut("  " + c.subject + ": " + (c.problem.empty() ? c.ok : "PROBLEM (below)"));
    if (findings->empty()) {
      printOut("No drift between the store and the kernel.");
      return kExitOk;
    }
    for (const auto& f : *findings) {
      printOut((f.fixed ? "FIXED " : "FOUND ") + f.subject + ": " + f.problem +
               (f.action.empty() ? "" : " — " + f.action));
    }
    if (open && !*fix) printOut("Run `km doctor --fix` to repair.");
    return open ? kExitFailed : kExitOk;
  };
}

Handler installSupervise(CLI::App& sub, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto fd = std::make_shared<int>(-1);
  sub.add_option("sandbox", *id, "Sandbox id")->required();
  sub.add_option("--ready-fd", *fd, "File descriptor that gets one report (ok, or the error) once ready");
  sub.group("");  // internal: started by km resume and km doctor --fix
  return [id, fd, &ctx] {
    supervisor::Options o;
    o.km_home = ctx.globals().home;
    o.store_path = ctx.globals().home + "/fleet.db";
    o.id = *id;
    o.ready_fd = *fd;
    return supervisor::run(o);
  };
}

Handler installFillCaPool(CLI::App& sub, Context& ctx) {
  sub.group("");  // internal: started by a new sandbox's supervisor (supervisor::refillCaPool)
  return [&ctx] {
    // Only on otherwise idle CPUs. SCHED_IDLE also puts I/O in the idle class, which waits for
    // an idle disk (the keys' fsync took seconds behind other writers): best effort, lowest.
    sched_param idle{};
    ::sched_setscheduler(0, SCHED_IDLE, &idle);
    ::prctl(PR_SET_NAME, "km-ca-pool", 0, 0, 0);
    constexpr int kWhoProcess = 1, kClassBestEffort = 2, kClassShift = 13, kLowest = 7;
    ::syscall(SYS_ioprio_set, kWhoProcess, 0, (kClassBestEffort << kClassShift) | kLowest);
    auto s = net::proxy::fillCaPool(net::proxy::caPoolDir(ctx.globals().home));
    if (!s) return printFailure(s.error());
    return kExitOk;
  };
}

}  // namespace km::cli
