// Where a sandbox runs. The profile says what it would like (upstream profiles mostly say
// ec2); this machine may only offer local. Choosing quietly would surprise, refusing would
// make every upstream profile unusable without a cloud, so km falls back and says so.
#include <optional>
#include <string>

#include "core/strings.h"
#include "plan/compile_steps.h"

namespace km::plan {
namespace {

bool isAws(Substrate s) { return s == Substrate::kEc2 || s == Substrate::kEcs; }

// Why `substrate` cannot run here, or "" when it can.
std::string unusableBecause(std::optional<Substrate> substrate, const CompileOptions& options) {
  if (!substrate) return "not a substrate km knows";
  switch (*substrate) {
    case Substrate::kLocal: return "";
    case Substrate::kEc2:
    case Substrate::kEcs: return options.aws_configured ? "" : "not configured here";
    case Substrate::kDocker: return "not available yet in this build";
  }
  return "not a substrate km knows";
}

}  // namespace

Result<SubstrateChoice> chooseSubstrate(std::string_view requested, const CompileOptions& options) {
  const std::string req(requested);
  if (options.substrate) {
    const std::string& flag = *options.substrate;
    std::optional<Substrate> kind = parseSubstrate(flag);
    if (!kind) {
      return invalidArgument("--substrate: " + quoted(flag) +
                             " is not a substrate; use one of local, docker, ec2, ecs");
    }
    if (isAws(*kind) && !options.aws_configured) {
      return invalidArgument("--substrate " + flag +
                             ": the AWS substrate is not configured (operator config has no aws: section)");
    }
    if (*kind == Substrate::kDocker) {
      return invalidArgument("--substrate docker: the docker substrate is not available yet in this build; "
                             "use --substrate local");
    }
    SubstrateChoice c{*kind, ""};
    if (flag != req) c.note = "profile asks for " + req + "; --substrate " + flag + " overrides it";
    return c;
  }

  std::optional<Substrate> asked_for = parseSubstrate(req);
  std::string why = unusableBecause(asked_for, options);
  if (why.empty()) return SubstrateChoice{*asked_for, ""};

  // Only an unvalidated profile has no substrate; say that rather than "asks for ()".
  const std::string asked = req.empty() ? "profile names no substrate" : "profile asks for " + req + " (" + why + ")";
  const std::string& fallback = options.default_substrate;
  std::optional<Substrate> fallback_kind = parseSubstrate(fallback);
  if (std::string fallback_why = unusableBecause(fallback_kind, options); !fallback_why.empty()) {
    return invalidArgument(asked + " and the operator config's default substrate " + quoted(fallback) + " is " +
                           fallback_why + "; pass --substrate local");
  }
  return SubstrateChoice{*fallback_kind, asked + "; running on " + fallback};
}

}  // namespace km::plan
