// What the semantic rule files share (private to profile): a RuleContext that reports a
// finding at a field path and tells a rule which fields it may reason about, plus the rule
// groups that live in their own files.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "doc/diagnostic.h"
#include "doc/node.h"
#include "profile/types.h"

namespace km::profile {

// Rules read the typed Profile, but the decoder fills a field even when it rejects it (an
// invalid bool becomes false, a bad enum keeps its text). A rule reasoning about such a
// value would report the same mistake twice, or a wrong one, so the context remembers
// which paths the schema already rejected and hides those values. Not thread-safe.
class RuleContext {
 public:
  // `diags` must already hold the schema's findings for `document`.
  RuleContext(const doc::Node& document, doc::Diagnostics& diags);

  // True when an error was reported at exactly `path` before the rules ran.
  bool rejected(std::string_view path) const;

  // `value` when it was written and decoded cleanly; nullopt when absent or rejected.
  template <class T>
  std::optional<T> usable(const std::optional<T>& value, std::string_view path) const {
    if (!value || rejected(path)) return std::nullopt;
    return value;
  }

  // The node written at exactly `path`, or nullptr when the field is absent.
  const doc::Node* written(std::string_view path) const;

  // Report at `path`, located at the field (or its nearest written ancestor).
  void error(const std::string& path, std::string message);
  void warning(const std::string& path, std::string message);

 private:
  const doc::Node& document_;
  doc::Diagnostics& diags_;
  std::vector<std::string> rejected_paths_;  // errors present before any rule ran
};

// Slack rules (upstream's notification.slack checks); semantic_slack.cc.
void checkSlack(const Notification& notification, RuleContext& ctx);

}  // namespace km::profile
