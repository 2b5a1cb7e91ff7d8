// How long a sandbox lives: --ttl / --idle override the profile's lifecycle, in the profile's
// own duration syntax, and the combination must still make sense (the idle timer can never
// fire after the sandbox has expired, so ttl ≥ idle unless ttl is 0 = never).
#include <string>

#include "core/duration.h"
#include "core/strings.h"
#include "plan/compile_steps.h"

namespace km::plan {
namespace {

// One duration and where it came from, for messages.
struct Setting {
  std::string text;
  std::string from;  // "--ttl" or "spec.lifecycle.ttl"
  bool is_flag = false;
  int64_t seconds = 0;
};

Result<Setting> read(const std::optional<std::string>& flag, std::string_view flag_name,
                     const std::string& field, std::string_view field_path, bool allow_zero) {
  Setting s;
  s.is_flag = flag.has_value();
  s.text = s.is_flag ? *flag : field;
  s.from = std::string(s.is_flag ? flag_name : field_path);
  // "0" alone means "never" and only the ttl has that meaning (idleTimeout's pattern refuses
  // it); "0s" is a plain duration for both, as in the profile.
  // A flag takes what upstream's Go CLI takes ("1h30m", "90s"); the profile field keeps
  // its schema's form (a number and one unit).
  if (s.is_flag) {
    auto parsed = parseFlagDuration(s.text);
    if (!parsed) return invalidArgument(s.from + ": " + parsed.error().message());
    if (s.text == "0" && !allow_zero) {
      return invalidArgument(s.from + ": \"0\" means never only for --ttl; give an idle timeout like 30m");
    }
    s.seconds = parsed->count();
    return s;
  }
  auto parsed = parseDuration(s.text);
  if (!parsed || (s.text == "0" && !allow_zero)) {
    std::string accepted = allow_zero ? "0 or a number with one unit (s, m, h, d), like 4h"
                                      : "a number with one unit (s, m, h, d), like 1h";
    return invalidArgument(s.from + ": expected " + accepted + "; got " + quoted(s.text));
  }
  s.seconds = parsed->count();
  return s;
}

}  // namespace

Result<Lifetime> resolveLifetime(const profile::Lifecycle& lifecycle, const CompileOptions& options) {
  auto ttl = read(options.ttl, "--ttl", lifecycle.ttl, "spec.lifecycle.ttl", /*allow_zero=*/true);
  if (!ttl) return std::move(ttl).error();
  auto idle = read(options.idle_timeout, "--idle", lifecycle.idle_timeout, "spec.lifecycle.idleTimeout",
                   /*allow_zero=*/false);
  if (!idle) return std::move(idle).error();

  // The profile's own pair was checked by validation; checking again costs nothing and keeps
  // compile safe on a profile that skipped it.
  if (ttl->seconds != 0 && ttl->seconds < idle->seconds) {
    std::string fix = ttl->is_flag || idle->is_flag
                          ? "; pass a --ttl of at least " + idle->text + ", a shorter --idle, or --ttl 0 for a "
                            "sandbox that never expires"
                          : "; raise the ttl, lower the idle timeout, or use ttl \"0\"";
    return invalidArgument(ttl->from + " " + ttl->text + " is shorter than the idle timeout " + idle->text +
                           " (" + idle->from + ")" + fix);
  }
  return Lifetime{ttl->seconds, idle->seconds};
}

}  // namespace km::plan
