// Where a sandbox runs. The profile says what it would like (upstream profiles mostly say
// ec2); this machine may only offer local. Choosing quietly would surprise, refusing would
// make every upstream profile unusable without a cloud, so km falls back and says so.
#include <array>
#include <string>

#include "core/strings.h"
#include "plan/compile_steps.h"

namespace km::plan {
namespace {

constexpr std::array<std::string_view, 4> kSubstrates = {"local", "docker", "ec2", "ecs"};

bool isKnown(std::string_view s) {
  for (auto k : kSubstrates)
    if (k == s) return true;
  return false;
}

bool isAws(std::string_view s) { return s == "ec2" || s == "ecs"; }

// Why `substrate` cannot run here, or "" when it can.
std::string unusableBecause(std::string_view substrate, const CompileOptions& options) {
  if (substrate == "local") return "";
  if (isAws(substrate)) return options.aws_configured ? "" : "not configured here";
  if (substrate == "docker") return "not available yet in this build";
  return "not a substrate km knows";
}

}  // namespace

Result<SubstrateChoice> chooseSubstrate(std::string_view requested, const CompileOptions& options) {
  const std::string req(requested);
  if (options.substrate) {
    const std::string& flag = *options.substrate;
    if (!isKnown(flag)) {
      return invalidArgument("--substrate: " + quoted(flag) +
                             " is not a substrate; use one of local, docker, ec2, ecs");
    }
    if (isAws(flag) && !options.aws_configured) {
      return invalidArgument("--substrate " + flag +
                             ": the AWS substrate is not configured (operator config has no aws: section)");
    }
    if (flag == "docker") {
      return invalidArgument("--substrate docker: the docker substrate is not available yet in this build; "
                             "use --substrate local");
    }
    SubstrateChoice c{flag, ""};
    if (flag != req) c.note = "profile asks for " + req + "; --substrate " + flag + " overrides it";
    return c;
  }

  std::string why = unusableBecause(req, options);
  if (why.empty()) return SubstrateChoice{req, ""};

  // Only an unvalidated profile has no substrate; say that rather than "asks for ()".
  const std::string asked = req.empty() ? "profile names no substrate" : "profile asks for " + req + " (" + why + ")";
  const std::string& fallback = options.default_substrate;
  if (std::string fallback_why = unusableBecause(fallback, options); !fallback_why.empty()) {
    return invalidArgument(asked + " and the operator config's default substrate " + quoted(fallback) + " is " +
                           fallback_why + "; pass --substrate local");
  }
  return SubstrateChoice{fallback, asked + "; running on " + fallback};
}

}  // namespace km::plan
