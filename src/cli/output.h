// Printing helpers shared by commands (private to cli).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "doc/diagnostic.h"
#include "doc/node.h"

namespace km::cli {

// "ERROR: file:line:col: path: message" / "WARN: ..." on stderr, one per diagnostic.
// `fallback_file` names diagnostics that carry no file.
void printDiagnostics(const doc::Diagnostics& diags, std::string_view fallback_file);

// Diagnostics as JSON Nodes: [{"file","path","line","column","message"}...].
doc::Node diagnosticsToJson(const doc::Diagnostics& diags, bool errors,
                            std::string_view fallback_file);

void printOut(std::string_view text);  // stdout, newline added when missing
void printErr(std::string_view text);  // stderr, newline added when missing

}  // namespace km::cli
