// km logs SB [--network | --init] [--follow] [--json]: a sandbox's logs.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "core/fs.h"
#include "core/strings.h"
#include "core/log_reader.h"
#include "doc/json_io.h"
#include "substrate/local/layout.h"

namespace km::cli {
namespace {

struct LogsArgs {
  std::string ref;
  bool network = false;
  bool init = false;
  bool follow = false;
};

std::string field(const doc::Node& n, std::string_view key) {
  const doc::Node* v = n.find(key);
  return v ? v->text() : "";
}

std::string joined(const doc::Node* list) {
  std::string out;
  if (!list) return out;
  for (const auto& item : list->items()) out += (out.empty() ? "" : ", ") + item.text();
  return out;
}

// One network log line for people: time, layer, decision, what, why.
std::string human(const std::string& line) {
  doc::Node n;
  if (!doc::parseJson(line, n, nullptr) || !n.isMap()) return line;
  std::string time = field(n, "time");
  if (time.size() > 23) time = time.substr(11, 12);  // HH:MM:SS.mmm
  std::string layer = field(n, "layer");
  std::string decision = field(n, "decision");
  char head[64];
  std::snprintf(head, sizeof head, "%-12s %-7s %-8s ", time.c_str(), layer.c_str(), decision.c_str());
  std::string what;
  if (layer == "dns") {
    what = field(n, "name") + " " + field(n, "type") + " " + field(n, "rcode");
    std::string addrs = joined(n.find("addresses"));
    if (!addrs.empty()) what += " → " + addrs;
    if (field(n, "cached") == "true") what += " (cached)";
    what += " from " + field(n, "client") + "/" + field(n, "transport");
  } else {
    std::string dest = field(n, "dest");
    if (dest.find(':') != std::string::npos) dest = "[" + dest + "]";
    what = field(n, "comm") + "[" + field(n, "pid") + "] → " + dest + ":" + field(n, "port") + "/" + field(n, "protocol");
    if (!field(n, "name").empty()) what += " (" + field(n, "name") + ")";
  }
  std::string reason = field(n, "reason");
  std::string withheld = joined(n.find("withheld"));
  if (!withheld.empty()) reason += "; withheld " + withheld;
  return head + what + (reason.empty() ? "" : ": " + reason);
}

volatile sig_atomic_t g_stop = 0;

int runLogs(const LogsArgs& a, Context& ctx) {
  if (a.network && a.init) {
    printErr("ERROR: --network and --init name different logs; give one");
    return kExitUsage;
  }
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto rec = resolveOrPrint(*store, a.ref);
  if (!rec) return kExitFailed;
  auto layout = substrate::local::Layout::forSandbox(ctx.globals().home, rec->id);
  std::string path = a.network ? layout.network_log : a.init ? layout.init_log : layout.supervisor_log;
  bool json = ctx.globals().json;
  if (json && !a.network) {
    printErr("ERROR: --json applies to --network (the other logs are plain text)");
    return kExitUsage;
  }
  if (!fs::exists(layout.dir) && !a.follow) {
    return printFailure(notFound("sandbox " + rec->id + " has no files here"));
  }
  g_stop = 0;
  ::signal(SIGINT, [](int) { g_stop = 1; });
  ::signal(SIGTERM, [](int) { g_stop = 1; });
  // The rotated files first, oldest first, then the live one; a line still being written is
  // held until its newline.
  LogReader reader(path);
  auto print = [&](std::string_view line) {
    // Everything in these logs came out of the sandbox (its process and DNS names, its init
    // commands' output): no control sequence of its reaches the terminal. The JSON lines are
    // ASCII already (the writer escapes every other byte).
    std::string out = json ? std::string(line)
                      : a.network ? escapeForTerminal(human(std::string(line)), /*keep_newlines=*/false)
                                  : escapeForTerminal(line);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
  };
  for (;;) {
    // Looked at before reading, so what was written before the sandbox went is printed.
    bool destroyed = !fs::exists(layout.dir);
    auto n = reader.poll(print);
    if (!n) return printFailure(std::move(n).error());
    if (!a.follow || g_stop || destroyed) break;
    std::fflush(stdout);
    ::usleep(200 * 1000);
  }
  return 0;
}

}  // namespace

Handler installLogs(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<LogsArgs>();
  sub.add_option("sandbox", a->ref, "Sandbox id, alias, or number (3 or #3)")->required();
  sub.add_flag("--network", a->network,
               "DNS and connect decisions (JSON lines with --json): time, pid, comm, dest, port, name, decision, reason");
  sub.add_flag("--init", a->init, "Output of the profile's initCommands");
  sub.add_flag("-f,--follow", a->follow, "Keep printing new lines until interrupted or the sandbox is destroyed");
  sub.footer(
      "Without --network or --init: the supervisor's log. The network log records every DNS query\n"
      "the sandbox's resolver answered and every connect/send the eBPF programs allowed, refused\n"
      "or redirected (enforcement ebpf|both), or that its nftables refused or redirected (proxy).\n"
      "Logs are rotated (operator config logs.maxFileSize, default 16 MiB; logs.maxFiles, default 4;\n"
      "oldest lines dropped) and read in order across the files. Text from the sandbox is shown with\n"
      "control characters escaped (\\x1b…). See docs/network.md.");
  return [a, &ctx] { return runLogs(*a, ctx); };
}

}  // namespace km::cli
