// km exec SB -- CMD..., km shell SB: run inside a running sandbox.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"

namespace km::cli {
namespace {

struct ExecArgs {
  std::string ref;
  bool root = false;
  bool tty = false, no_tty = false;
  std::vector<std::string> env;
  std::string workdir;
  std::vector<std::string> command;
};

int finish(const Result<int>& code) {
  if (!code) printErr("ERROR: " + code.error().message());
  return code ? *code : (code.error().code() == ErrorCode::kNotFound ? 127 : kExitFailed);
}

bool looksLikeId(const std::string& ref) {
  size_t dash = ref.rfind('-');
  if (dash == std::string::npos || dash == 0 || ref.size() - dash != 9) return false;
  for (size_t i = dash + 1; i < ref.size(); ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(ref[i])) || std::isupper(static_cast<unsigned char>(ref[i]))) return false;
  }
  for (size_t i = 0; i < dash; ++i) {
    char c = ref[i];
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return true;
}

int runExec(const ExecArgs& a, Context& ctx, bool shell) {
  for (const auto& kv : a.env) {
    if (kv.find('=') == std::string::npos || kv.front() == '=') {
      printErr("ERROR: --env " + kv + ": expected KEY=VALUE");
      return kExitUsage;
    }
  }
  fleet::ExecInput in;
  in.root = a.root;
  in.env = a.env;
  in.workdir = a.workdir;
  in.argv = shell ? std::vector<std::string>{} : a.command;  // shell: the profile's, as a login shell
  if (a.tty && a.no_tty) {
    printErr("ERROR: --tty and --no-tty contradict each other; give one");
    return kExitUsage;
  }
  if (a.tty) in.terminal = true;
  if (a.no_tty) in.terminal = false;
  in.warn = [](const std::string& message) { printErr("WARNING: " + message); };
  fleet::Env env = fleetEnv(ctx);
  if (looksLikeId(a.ref)) {
    // An exact id needs no database: the sandbox's directory says what runs.
    if (auto code = fleet::execById(env, a.ref, in)) return finish(*code);
  }
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto r = resolveOrPrint(*store, a.ref);
  if (!r) return kExitFailed;
  store.reset();  // no database connection stays open while the command runs
  return finish(fleet::exec(env, *r, in));
}

}  // namespace

Handler installExec(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<ExecArgs>();
  sub.add_option("sandbox", a->ref, "Sandbox id, alias, or number")->required();
  sub.add_option("command", a->command, "Command and arguments (after --)")->required();
  sub.add_flag("--root", a->root, "Run as root (reduced capabilities) instead of the sandbox user");
  sub.add_option("--env,-e", a->env, "Set KEY=VALUE (repeatable)")->allow_extra_args(false);
  sub.add_option("--workdir,-w", a->workdir, "Working directory (default: spec.execution.workingDir)");
  sub.add_flag("-t,--tty", a->tty, "Give the command a terminal even when stdin or stdout is not one");
  sub.add_flag("-T,--no-tty", a->no_tty, "Never give the command a terminal (plain pipes)");
  sub.footer("km relays stdin, stdout and stderr; the command's exit code is km's (128+N when killed\n"
             "by signal N; 127 when the command is not found in the sandbox, 126 when it cannot be executed).\n"
             "When stdin and stdout are terminals the command gets a new terminal of the\n"
             "sandbox's own (a pty; yours is in raw mode meanwhile, window size and signals follow),\n"
             "else pipes: nothing inside ever holds your terminal. Like ssh, km reads stdin while the\n"
             "command runs (use </dev/null in loops). The command runs as the unprivileged sandbox\n"
             "user with no capabilities, no_new_privs and km's seccomp filter. With proxy or both\n"
             "enforcement its environment also has HTTP(S)_PROXY, NO_PROXY and the sandbox CA's\n"
             "SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO, PIP_CERT,\n"
             "AWS_CA_BUNDLE and NODE_EXTRA_CA_CERTS (docs/proxy.md); --env overrides them.\n"
             "On a terminal, Enter then ~. disconnects (km kills the command, exits 255; ~~ sends ~).\n"
             "Every program it starts is in the command log (km logs SB --commands; docs/audit.md).\n"
             "Without a running supervisor km warns first: nothing records the commands then.");
  return [a, &ctx] { return runExec(*a, ctx, false); };
}

Handler installShell(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<ExecArgs>();
  sub.add_option("sandbox", a->ref, "Sandbox id, alias, or number")->required();
  sub.add_flag("--root", a->root, "Root shell (reduced capabilities)");
  sub.footer("An interactive login shell (the profile's spec.execution.shell, default /bin/bash) in the\n"
             "sandbox on a terminal of its own (a pty relayed by km, as `km exec` does; same confinement).");
  return [a, &ctx] { return runExec(*a, ctx, true); };
}

}  // namespace km::cli
