// Slack rules (upstream rule 6): which notification.slack settings contradict each other or
// do nothing. They run only when notification.slack is written. Most "no effect" findings are
// warnings; combinations that would route messages to the wrong audience are errors.

#include "doc/pattern.h"
#include "profile/patterns.h"
#include "profile/semantic_rules.h"

namespace km::profile {
namespace {

constexpr std::string_view kSlack = "spec.notification.slack";

std::string slackPath(std::string_view field) {
  return std::string(kSlack) + "." + std::string(field);
}

// The settings the rules combine, with values the schema rejected treated as not written.
struct SlackView {
  std::optional<bool> enabled;  // as written: "explicitly false" differs from absent
  bool on = false;              // enabled: true
  bool per_sandbox = false;
  bool has_override = false;    // channelOverride set
  bool has_channel_name = false;
  bool inbound_on = false;
  // False when the schema rejected enabled, perSandbox or inbound.enabled: the combination
  // rules would then reason about a value the user did not mean, so they stay quiet.
  bool switches_readable = true;
};

SlackView viewOf(const Slack& s, RuleContext& ctx) {
  SlackView v;
  v.enabled = ctx.usable(s.enabled, slackPath("enabled"));
  v.on = v.enabled.value_or(false);
  v.per_sandbox = ctx.usable(s.per_sandbox, slackPath("perSandbox")).value_or(false);
  v.has_override = !ctx.usable(s.channel_override, slackPath("channelOverride")).value_or("").empty();
  v.has_channel_name = !ctx.usable(s.channel_name, slackPath("channelName")).value_or("").empty();
  if (s.inbound && !ctx.rejected(slackPath("inbound"))) {
    v.inbound_on = ctx.usable(s.inbound->enabled, slackPath("inbound.enabled")).value_or(false);
  }
  v.switches_readable = !ctx.rejected(slackPath("enabled")) &&
                        !ctx.rejected(slackPath("perSandbox")) &&
                        !ctx.rejected(slackPath("inbound")) &&
                        !ctx.rejected(slackPath("inbound.enabled"));
  return v;
}

// perSandbox creates one channel per sandbox (named by channelName); channelOverride posts to
// one fixed channel. A profile can ask for one or the other.
void checkChannelChoice(const SlackView& v, RuleContext& ctx) {
  if (v.per_sandbox && v.has_override) {
    ctx.error(std::string(kSlack),
              "perSandbox: true creates a channel for each sandbox, so channelOverride cannot also "
              "choose one; remove channelOverride, or set perSandbox: false to post to the override");
  }
  if (v.has_channel_name && v.has_override) {
    ctx.error(slackPath("channelName"),
              "channelName names a per-sandbox channel, but channelOverride posts to a fixed "
              "channel; keep only one of them");
  }
  if (v.has_channel_name && !v.per_sandbox) {
    ctx.warning(slackPath("channelName"),
                "channelName only names per-sandbox channels and has no effect without "
                "perSandbox: true; set perSandbox: true or remove channelName");
  }
}

// Settings that only mean something for a per-sandbox channel.
void checkPerSandboxOnly(const Slack& s, const SlackView& v, RuleContext& ctx) {
  if (v.per_sandbox && v.enabled == false) {
    ctx.warning(slackPath("perSandbox"),
                "perSandbox: true has no effect while notification.slack.enabled is false; set "
                "enabled: true or remove perSandbox");
  }
  if (v.per_sandbox) return;
  auto fix = [](std::string_view field) {
    return "; set perSandbox: true or remove " + std::string(field);
  };
  if (ctx.usable(s.archive_on_destroy, slackPath("archiveOnDestroy"))) {
    ctx.warning(slackPath("archiveOnDestroy"),
                "archiveOnDestroy only applies to per-sandbox channels" + fix("archiveOnDestroy"));
  }
  if (ctx.usable(s.private_channel, slackPath("private")).value_or(false)) {
    ctx.warning(slackPath("private"),
                "private: true only applies to per-sandbox channels (no channel is created "
                "without perSandbox)" + fix("private"));
  }
  if (!s.inbound || ctx.rejected(slackPath("inbound"))) return;
  if (!s.inbound->allow.empty() && !ctx.rejected(slackPath("inbound.allow"))) {
    ctx.warning(slackPath("inbound.allow"),
                "inbound.allow has no effect without a per-sandbox channel to receive messages" +
                    fix("inbound.allow"));
  }
}

// Several inbound threads only run in parallel on a per-sandbox inbound queue.
void checkThreads(const Slack& s, const SlackView& v, RuleContext& ctx) {
  if (!s.inbound || ctx.rejected(slackPath("inbound"))) return;
  const std::string path = slackPath("inbound.maxConcurrentThreads");
  auto threads = ctx.usable(s.inbound->max_concurrent_threads, path);
  if (!threads || *threads <= 1 || (v.per_sandbox && v.inbound_on)) return;
  ctx.warning(path, "maxConcurrentThreads " + std::to_string(*threads) +
                        " has no effect unless perSandbox: true and inbound.enabled: true; set "
                        "both, or remove maxConcurrentThreads");
}

// Inbound messages and transcripts must reach exactly the people of one sandbox's channel:
// they need outbound Slack, a per-sandbox channel, and no shared override channel.
void checkNeedsOwnChannel(const std::string& path, std::string_view feature, const SlackView& v,
                          RuleContext& ctx) {
  std::string what = std::string(feature) + " (" + path.substr(kSlack.size() + 1) + ": true)";
  if (!v.on) {
    ctx.error(path, what + " needs Slack itself on; set notification.slack.enabled: true");
  }
  if (!v.per_sandbox) {
    ctx.error(path, what + " needs a channel per sandbox; set notification.slack.perSandbox: true");
  }
  if (v.has_override) {
    ctx.error(path, what + " cannot use a shared channelOverride, whose members are not just this "
                           "sandbox's; remove channelOverride and use perSandbox: true");
  }
}

// The invite list, when written and readable; empty otherwise.
const Strings& inviteEmails(const Slack& s, RuleContext& ctx) {
  static const Strings kNone;
  if (!s.invites || ctx.rejected(slackPath("invites")) || ctx.rejected(slackPath("invites.emails"))) {
    return kNone;
  }
  return s.invites->emails;
}

// The schema only annotates these as emails (as upstream's does), so the shape is checked here.
void checkInviteAddresses(const Strings& emails, RuleContext& ctx) {
  const std::string path = slackPath("invites.emails");
  for (size_t i = 0; i < emails.size(); ++i) {
    std::string item = doc::indexPath(path, i);
    if (ctx.rejected(item)) continue;
    // RFC 5321 caps an address at 254 characters.
    if (emails[i].size() <= 254 && doc::patternSearch(patterns::kEmail, emails[i])) continue;
    std::string shown = emails[i].size() > 60 ? emails[i].substr(0, 57) + "..." : emails[i];
    ctx.error(item, "\"" + shown + "\" is not an email address; write it like name@example.com");
  }
}

// Email notices are on unless written false; with Slack off too, nothing is ever delivered.
void checkSomethingDelivers(const Notification& n, const SlackView& v, RuleContext& ctx) {
  bool email_on = true;
  if (n.email && !ctx.rejected("spec.notification.email")) {
    email_on = ctx.usable(n.email->enabled, "spec.notification.email.enabled").value_or(true);
  }
  if (v.on || email_on) return;
  ctx.warning("spec.notification",
              "notification.email.enabled is false and Slack is not enabled, so no notification "
              "channel will deliver; set notification.slack.enabled: true or email.enabled: true");
}

void checkOwnChannelFeatures(const Slack& s, const SlackView& v, RuleContext& ctx) {
  if (v.inbound_on) checkNeedsOwnChannel(slackPath("inbound.enabled"), "Slack inbound", v, ctx);
  if (s.transcript && !ctx.rejected(slackPath("transcript")) &&
      ctx.usable(s.transcript->enabled, slackPath("transcript.enabled")).value_or(false)) {
    checkNeedsOwnChannel(slackPath("transcript.enabled"), "transcript streaming", v, ctx);
  }
}

}  // namespace

void checkSlack(const Notification& n, RuleContext& ctx) {
  if (!n.slack || ctx.rejected(kSlack)) return;
  const Slack& s = *n.slack;
  const Strings& emails = inviteEmails(s, ctx);
  checkInviteAddresses(emails, ctx);
  SlackView v = viewOf(s, ctx);
  if (!v.switches_readable) return;
  checkChannelChoice(v, ctx);
  checkPerSandboxOnly(s, v, ctx);
  checkThreads(s, v, ctx);
  checkSomethingDelivers(n, v, ctx);
  checkOwnChannelFeatures(s, v, ctx);
  if (!emails.empty() && !v.on) {
    ctx.error(slackPath("invites.emails"),
              "invites.emails invites people to the Slack channel, which needs "
              "notification.slack.enabled: true; enable Slack or remove the invites");
  }
}

}  // namespace km::profile
