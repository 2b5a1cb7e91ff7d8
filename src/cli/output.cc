#include "cli/output.h"

#include "core/strings.h"

namespace km::cli {

void printOut(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stdout);
}

void printErr(std::string_view text) {
  std::fflush(stdout);
  // Messages may carry a sandbox's text (init output, file names in a copy error): no
  // control sequence of theirs reaches the terminal.
  std::string safe = escapeForTerminal(text);
  std::fwrite(safe.data(), 1, safe.size(), stderr);
  if (safe.empty() || safe.back() != '\n') std::fputc('\n', stderr);
}

void printDiagnostics(const doc::Diagnostics& diags, std::string_view fallback_file) {
  for (const auto& d : diags.all()) {
    doc::Diagnostic copy = d;
    if (copy.file.empty()) copy.file = std::string(fallback_file);
    printErr(std::string(d.isError() ? "ERROR: " : "WARN: ") + copy.format());
  }
}

doc::Node diagnosticsToJson(const doc::Diagnostics& diags, bool errors,
                            std::string_view fallback_file) {
  doc::Node list = doc::Node::seq();
  for (const auto& d : diags.all()) {
    if (d.isError() != errors) continue;
    doc::Node o = doc::Node::map();
    o.set("file", doc::Node::string(d.file.empty() ? std::string(fallback_file) : d.file));
    o.set("path", doc::Node::string(d.path));
    o.set("line", doc::Node::integer(d.line));
    o.set("column", doc::Node::integer(d.column));
    o.set("message", doc::Node::string(d.message));
    list.push(std::move(o));
  }
  return list;
}

}  // namespace km::cli
