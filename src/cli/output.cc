#include "cli/output.h"

#include <algorithm>

#include "core/strings.h"
#include "doc/json_io.h"

#include <vector>

namespace km::cli {

namespace {

struct JsonState {
  bool on = false;
  bool answered = false;              // stdout already carries the command's document
  std::vector<std::string> errors;    // "ERROR: " lines held for the error object
  std::vector<std::pair<std::string, doc::Node>> extra;
};

JsonState& state() {
  static JsonState s;
  return s;
}

constexpr std::string_view kErrorPrefix = "ERROR: ";

}  // namespace

void setJsonOutput(bool on) { state().on = on; }
bool jsonOutput() { return state().on; }

void attachToError(std::string key, doc::Node value) {
  state().extra.emplace_back(std::move(key), std::move(value));
}

void finishOutput(int exit_code) {
  JsonState& st = state();
  if (!st.on) return;
  if (exit_code == 0 || st.answered || (st.errors.empty() && st.extra.empty())) {
    // Nothing to report as JSON (a success, or the answer is out): the held lines as text.
    for (const auto& e : st.errors) {
      std::string safe = escapeForTerminal(e);
      std::fwrite(safe.data(), 1, safe.size(), stderr);
      std::fputc('\n', stderr);
    }
  } else {
    std::string message;
    for (const auto& e : st.errors) {
      std::string_view line = e;
      if (line.substr(0, kErrorPrefix.size()) == kErrorPrefix) line.remove_prefix(kErrorPrefix.size());
      // Escaped as the text form is: a message may carry a sandbox's words (init output), and
      // JSON passes C1 controls and bidi overrides through as UTF-8 for a terminal to act on.
      message += (message.empty() ? "" : "\n") + escapeForTerminal(line);
    }
    doc::Node o = doc::Node::map();
    o.set("error", doc::Node::string(message.empty() ? "failed" : message));
    o.set("exitCode", doc::Node::integer(exit_code));
    for (auto& [key, value] : st.extra) o.set(key, std::move(value));
    std::string text = doc::toJson(o);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  }
  st.errors.clear();
  st.extra.clear();
  std::fflush(stdout);
}

void printOut(std::string_view text) {
  state().answered = true;
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stdout);
}

void printColumns(const std::vector<std::vector<std::string>>& rows, size_t gap) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + gap, ' ');
    }
    printOut(line);
  }
}

void printErr(std::string_view text) {
  JsonState& st = state();
  if (st.on && text.substr(0, kErrorPrefix.size()) == kErrorPrefix) {
    std::string held(text);
    while (!held.empty() && held.back() == '\n') held.pop_back();
    // Escaped when printed as text; JSON escapes every control byte itself.
    st.errors.push_back(std::move(held));
    return;
  }
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
