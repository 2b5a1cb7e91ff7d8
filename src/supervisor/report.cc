#include "supervisor/report.h"

#include <cstdlib>

#include "doc/json_io.h"
#include "doc/node.h"

namespace km::supervisor {
namespace {

using doc::Node;

constexpr ErrorCode kCodes[] = {ErrorCode::kInvalidArgument, ErrorCode::kNotFound,
                                ErrorCode::kPermissionDenied, ErrorCode::kUnavailable,
                                ErrorCode::kBudgetExceeded, ErrorCode::kInternal};

int64_t integer(const Node& n, std::string_view key) {
  const Node* v = n.find(key);
  if (v == nullptr || v->kind() != Node::Kind::kInt) return 0;
  return std::strtoll(v->text().c_str(), nullptr, 10);
}

}  // namespace

std::string encodeReport(const Result<Report>& report) {
  Node n = Node::map();
  n.set("ok", Node::boolean(report.has_value()));
  if (!report) {
    n.set("code", Node::string(std::string(errorCodeName(report.error().code()))));
    n.set("message", Node::string(report.error().message()));
    return doc::toJson(n, -1);
  }
  const Report& r = *report;
  if (!r.state.empty()) n.set("state", Node::string(r.state));
  if (r.supervisor_pid > 0) {
    n.set("supervisorPid", Node::integer(r.supervisor_pid));
    n.set("supervisorStart", Node::integer(static_cast<int64_t>(r.supervisor_start)));
    n.set("initPid", Node::integer(r.init_pid));
    n.set("initStart", Node::integer(static_cast<int64_t>(r.init_start)));
  }
  return doc::toJson(n, -1);
}

Result<Report> decodeReport(std::string_view text, std::string_view source) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return unavailable("the supervisor ended without a report (see " + std::string(source) + ")");
  Node n;
  std::string err;
  const Node* ok = nullptr;
  if (!doc::parseJson(std::string(text), n, &err) || n.kind() != Node::Kind::kMap ||
      (ok = n.find("ok")) == nullptr || ok->kind() != Node::Kind::kBool) {
    return unavailable("unexpected report from the supervisor (see " + std::string(source) +
                       "): " + std::string(text.substr(0, 200)));
  }
  if (!ok->asBool()) {
    const Node* code = n.find("code");
    const Node* message = n.find("message");
    ErrorCode c = ErrorCode::kUnavailable;
    for (ErrorCode k : kCodes) {
      if (code != nullptr && errorCodeName(k) == code->text()) c = k;
    }
    return Error(c, message != nullptr ? message->text() : "the supervisor reported an error");
  }
  Report r;
  if (const Node* s = n.find("state")) r.state = s->text();
  r.supervisor_pid = static_cast<pid_t>(integer(n, "supervisorPid"));
  r.supervisor_start = static_cast<uint64_t>(integer(n, "supervisorStart"));
  r.init_pid = static_cast<pid_t>(integer(n, "initPid"));
  r.init_start = static_cast<uint64_t>(integer(n, "initStart"));
  return r;
}

}  // namespace km::supervisor
