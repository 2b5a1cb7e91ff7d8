// Logging: one named logger per module ("km.profile"), backed by spdlog, to stderr.
// Messages name their subject. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "core/rotating_file.h"

namespace km::log {

enum class Level { kDebug, kInfo, kWarn, kError, kCritical };

// 0 = warnings and worse (default), 1 = info (-v), 2 = debug (-vv).
void setVerbosity(int verbosity);
// As setVerbosity, but never makes logging quieter than it is (a supervisor logs its
// lifecycle at info to its file whatever -v it was started with; -vv still adds debug).
void raiseVerbosity(int verbosity);

// From now on every logger of this process writes to `path`, rotated and capped by `limits`
// (a supervisor's log: what a sandbox provokes in it must not grow without bound), instead
// of stderr, each line "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v" (UTC; see core/timeline.h); after
// each rotation fd 2 is pointed at the new live file too. The open error when the file cannot be opened (logging stays on stderr).
[[nodiscard]] Status toRotatingFile(const std::string& path, const RotationLimits& limits);

// From now on loggers write to stderr with the file pattern above (no colour): for a process
// whose stderr is its log file (a supervisor before it opens the file itself).
void toStderrAsFile();

// Makes the named logger now (its pattern compiled, its sink opened), so that its first
// message costs no more than the next: for a process about to race to a deadline.
void prepare(std::string_view logger);

void write(std::string_view logger, Level level, std::string_view message);

inline void debug(std::string_view logger, std::string_view m) { write(logger, Level::kDebug, m); }
inline void info(std::string_view logger, std::string_view m) { write(logger, Level::kInfo, m); }
inline void warn(std::string_view logger, std::string_view m) { write(logger, Level::kWarn, m); }
inline void error(std::string_view logger, std::string_view m) { write(logger, Level::kError, m); }

}  // namespace km::log
