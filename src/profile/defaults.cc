// Upstream applies these defaults in code rather than in its schema; `km profile show
// --resolved` makes them explicit so what you see is what a sandbox gets.
#include <string>
#include <unordered_set>

#include "profile/profile.h"

namespace km::profile {
namespace {

// Appends each of `more` that `into` does not hold yet, in order (the typed counterpart of
// appendUnique in extends.h, for already-decoded string lists).
void appendMissing(Strings& into, const Strings& more) {
  std::unordered_set<std::string> have(into.begin(), into.end());
  for (const auto& s : more) {
    if (have.insert(s).second) into.push_back(s);
  }
}

}  // namespace

Profile withDefaults(Profile p) {
  Spec& s = p.spec;
  if (!p.metadata.prefix) p.metadata.prefix = "sb";
  if (!s.network.enforcement) s.network.enforcement = "proxy";

  // initCommandsAppend always runs after initCommands.
  appendMissing(s.execution.init_commands, s.execution.init_commands_append);
  s.execution.init_commands_append.clear();

  if (!s.runtime.vscode) s.runtime.vscode.emplace();
  if (!s.runtime.vscode->enabled) s.runtime.vscode->enabled = true;
  if (s.runtime.desktop) {
    Desktop& d = *s.runtime.desktop;
    if (!d.enabled) d.enabled = false;
    if (!d.mode) d.mode = "kiosk";
    if (d.browsers.empty()) d.browsers = {"firefox"};
    if (!d.geometry) d.geometry = "1920x1080";
  }
  if (s.runtime.mount_efs.value_or(false) && !s.runtime.efs_mount_point) {
    s.runtime.efs_mount_point = "/shared";
  }
  if (s.runtime.ami && s.runtime.ami->empty()) s.runtime.ami = "amazon-linux-2023";

  if (s.observability.claude_telemetry && !s.observability.claude_telemetry->enabled) {
    s.observability.claude_telemetry->enabled = true;
  }
  if (s.observability.tls_capture) {
    Strings& libs = s.observability.tls_capture->libraries;
    bool all = false;
    for (const auto& l : libs) all = all || l == "all";
    if (all) libs = {"openssl", "gnutls", "nss", "go", "rustls"};
    if (libs.empty()) libs = {"openssl"};
  }

  if (s.budget && (!s.budget->warning_threshold || s.budget->warning_threshold->ppm == 0)) {
    s.budget->warning_threshold = Ratio{800'000};
  }

  if (!s.agent) s.agent.emplace();
  if (!s.agent->default_agent) s.agent->default_agent = "claude";
  if (s.agent->codex && !s.agent->codex->local_model) s.agent->codex->local_model = "local";

  if (s.notification) {
    Notification& n = *s.notification;
    if (n.email && !n.email->enabled) n.email->enabled = true;
    if (n.slack) {
      Slack& sl = *n.slack;
      if (!sl.enabled) sl.enabled = false;
      if (!sl.per_sandbox) sl.per_sandbox = false;
      if (!sl.archive_on_destroy) sl.archive_on_destroy = true;
      if (sl.inbound) {
        if (!sl.inbound->react_always) sl.inbound->react_always = true;
        if (!sl.inbound->max_concurrent_threads) sl.inbound->max_concurrent_threads = 1;
      }
      if (sl.invites && !sl.invites->use_connect) sl.invites->use_connect = true;
    }
  }
  if (s.limits) {
    for (auto* l : {&s.limits->github_pr, &s.limits->github_comment, &s.limits->github_review,
                    &s.limits->email_send, &s.limits->slack_post, &s.limits->h1_comment}) {
      if (*l && (!(*l)->on_breach || (*l)->on_breach->empty())) (*l)->on_breach = "warn";
    }
  }
  return p;
}

}  // namespace km::profile
