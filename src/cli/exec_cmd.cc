// km exec SB -- CMD..., km shell SB: run inside a running sandbox.
#include <unistd.h>

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
  std::vector<std::string> env;
  std::string workdir;
  std::vector<std::string> command;
};

// This process joins the sandbox's namespaces, where the host's /proc is not visible: leave
// at once afterwards, without exit-time hooks that would look there.
[[noreturn]] void finish(const Result<int>& code) {
  int rc = code ? *code : (code.error().code() == ErrorCode::kNotFound ? 127 : kExitFailed);
  if (!code) printErr("ERROR: " + code.error().message());
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(rc);
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
  in.argv = shell ? std::vector<std::string>{"/bin/bash", "-l"} : a.command;
  fleet::Env env = fleetEnv(ctx);
  if (looksLikeId(a.ref)) {
    // An exact id needs no database: the sandbox's directory says what runs.
    if (auto code = fleet::execById(env, a.ref, in)) finish(*code);
  }
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto r = resolveOrPrint(*store, a.ref);
  if (!r) return kExitFailed;
  store.reset();  // nothing of the store may follow us into the sandbox
  finish(fleet::exec(env, *r, in));
}

}  // namespace

Handler installExec(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<ExecArgs>();
  sub.add_option("sandbox", a->ref, "Sandbox id, alias, or number")->required();
  sub.add_option("command", a->command, "Command and arguments (after --)")->required();
  sub.add_flag("--root", a->root, "Run as root (reduced capabilities) instead of the sandbox user");
  sub.add_option("--env,-e", a->env, "Set KEY=VALUE (repeatable)")->allow_extra_args(false);
  sub.add_option("--workdir,-w", a->workdir, "Working directory (default: spec.execution.workingDir)");
  sub.footer("stdin, stdout and stderr are passed through (a terminal stays a terminal) and the\n"
             "command's exit code is km's (128+N when killed by signal N). The command runs as the\n"
             "unprivileged sandbox user with no capabilities, no_new_privs and km's seccomp filter.");
  return [a, &ctx] { return runExec(*a, ctx, false); };
}

Handler installShell(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<ExecArgs>();
  sub.add_option("sandbox", a->ref, "Sandbox id, alias, or number")->required();
  sub.add_flag("--root", a->root, "Root shell (reduced capabilities)");
  sub.footer("An interactive login shell in the sandbox (same confinement as `km exec`).");
  return [a, &ctx] { return runExec(*a, ctx, true); };
}

}  // namespace km::cli
