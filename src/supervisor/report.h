// The supervisor's protocol (private to supervisor): one report, one JSON line, on the ready
// pipe of a starting supervisor and as the reply on its control socket. A report is ok with
// optional facts, or an error that keeps its ErrorCode, so a user's mistake found by the
// supervisor (a profile's shell that is missing) still makes km exit 2.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace km::supervisor {

struct Report {
  std::string state;            // the sandbox now (running | paused | stopped), when asked
  pid_t supervisor_pid = 0;     // ready report: who supervises and who is init
  uint64_t supervisor_start = 0;
  pid_t init_pid = 0;
  uint64_t init_start = 0;
};

// One line (no newline inside): {"ok":true,…facts} or {"ok":false,"code":…,"message":…}.
std::string encodeReport(const Result<Report>& report);
inline std::string encodeReport(const Status& status) {
  return status ? encodeReport(Report{}) : encodeReport(Result<Report>(status.error()));
}

// The report `text` carries: its facts, or its error with the code it was sent with.
// Unavailable, quoting `source`, when `text` is empty (the supervisor ended without a word)
// or not a report.
[[nodiscard]] Result<Report> decodeReport(std::string_view text, std::string_view source);

}  // namespace km::supervisor
