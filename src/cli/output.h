// Printing helpers shared by commands (private to cli).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "doc/diagnostic.h"
#include "doc/node.h"

namespace km::profile {
struct Loaded;
}

namespace km::cli {

// "ERROR: file:line:col: path: message" / "WARN: ..." on stderr, one per diagnostic.
// `fallback_file` names diagnostics that carry no file.
void printDiagnostics(const doc::Diagnostics& diags, std::string_view fallback_file);

// Diagnostics as JSON Nodes: [{"file","path","line","column","message"}...].
doc::Node diagnosticsToJson(const doc::Diagnostics& diags, bool errors,
                            std::string_view fallback_file);

// `km validate --json`'s report for one argument: {file, valid, skipped, errors, warnings}.
// Also the "validation" field of a failed create's error object.
doc::Node validationReport(std::string_view file, const Result<profile::Loaded>& loaded);

void printOut(std::string_view text);  // stdout, newline added when missing
// `rows` (the header first) as columns on stdout, each padded to its widest cell and followed
// by `gap` spaces (the last column unpadded).
void printColumns(const std::vector<std::vector<std::string>>& rows, size_t gap = 1);
void printErr(std::string_view text);  // stderr, newline added when missing

// JSON mode (--json anywhere on the line). Then a command that fails without having printed
// its answer prints one object on stdout instead of its "ERROR: ..." lines:
//   {"error": "<the messages, one per line>", "exitCode": N, ...attached fields}
// Other stderr lines (warnings, notes) stay text on stderr. Documented in docs/cli.md.
void setJsonOutput(bool on);
bool jsonOutput();
// Adds a field to the error object, e.g. "validation" with the profile's report.
void attachToError(std::string key, doc::Node value);
// Called once when the command is done: prints the error object if one is due.
void finishOutput(int exit_code);

}  // namespace km::cli
