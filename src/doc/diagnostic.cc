#include "doc/diagnostic.h"

#include <algorithm>

namespace km::doc {

std::string Diagnostic::format() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": ";
  }
  if (!path.empty()) out += path + ": ";
  return out + message;
}

void Diagnostics::add(Diagnostic d) {
  // The same problem reached twice (e.g. through two parents of a diamond) is one problem.
  for (const auto& e : items_) {
    if (e.severity == d.severity && e.file == d.file && e.line == d.line && e.column == d.column &&
        e.path == d.path && e.message == d.message)
      return;
  }
  items_.push_back(std::move(d));
}

void Diagnostics::error(const Mark& at, std::string path, std::string message) {
  add({Diagnostic::Severity::kError, at.fileName(), at.line, at.column, std::move(path),
       std::move(message)});
}

void Diagnostics::warning(const Mark& at, std::string path, std::string message) {
  add({Diagnostic::Severity::kWarning, at.fileName(), at.line, at.column, std::move(path),
       std::move(message)});
}

bool Diagnostics::hasErrors() const { return errorCount() > 0; }

size_t Diagnostics::errorCount() const {
  return static_cast<size_t>(
      std::count_if(items_.begin(), items_.end(), [](const auto& d) { return d.isError(); }));
}

size_t Diagnostics::warningCount() const { return items_.size() - errorCount(); }

void Diagnostics::append(const Diagnostics& other) {
  for (const auto& d : other.items_) add(d);
}

std::string childPath(std::string_view parent, std::string_view key) {
  bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
  if (!plain) return std::string(parent) + "[\"" + std::string(key) + "\"]";
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

std::string indexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

}  // namespace km::doc
