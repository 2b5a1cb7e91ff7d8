#include <algorithm>

#include "audit/audit.h"
#include "audit/redact.h"
#include "core/log.h"

namespace km::audit {
namespace {
constexpr std::string_view kLog = "km.audit";
}

size_t redact(Record& record, const Redactor& r) {
  struct Visit {
    const Redactor& r;
    size_t operator()(DnsRecord& d) const { return r.redact(d.name); }
    size_t operator()(ConnectRecord& c) const { return r.redact(c.comm) + r.redact(c.name); }
    size_t operator()(HttpRecord& h) const { return r.redact(h.host) + r.redact(h.path); }
    size_t operator()(ExecRecord& e) const {
      return r.redact(e.path) + r.redact(e.exe) + r.redactArgv(e.argv) + r.redact(e.cwd);
    }
    size_t operator()(ExitRecord&) const { return 0; }
    size_t operator()(GapRecord&) const { return 0; }
  };
  return std::visit(Visit{r}, record);
}

Result<std::unique_ptr<Writer>> Writer::open(const std::string& path, RotationLimits limits,
                                             std::shared_ptr<const Redactor> redactor) {
  auto file = RotatingFile::open(path, limits);
  if (!file) return std::move(file).error();
  auto w = std::make_unique<Writer>();
  w->file_.emplace(std::move(*file));
  w->redactor_ = std::move(redactor);
  return w;
}

void Writer::add(const Record& record) {
  if (!enabled()) return;
  if (redactor_) {
    // Outside the lock: redaction is the expensive part, and the redactor is thread-safe.
    Record copy = record;
    size_t n = redact(copy, *redactor_);
    std::lock_guard lock(mu_);
    redactions_ += n;
    encode(copy, buf_);
    return;
  }
  std::lock_guard lock(mu_);
  encode(record, buf_);
}

uint64_t Writer::redactions() const {
  std::lock_guard lock(mu_);
  return redactions_;
}

void Writer::flush(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  if (buf_.empty()) return;
  if (Status s = file_->append(buf_); !s) {
    failed(s.error(), now);
  } else if (failure_warnings_.active()) {
    log::warn(kLog, "audit log " + file_->path() + " is written again; " + std::to_string(dropped_lines_) +
                        " lines were dropped in " + std::to_string(failed_writes_) + " failed writes so far");
    failure_warnings_.clear();
    unwarned_lines_ = 0;
  }
  buf_.clear();
}

void Writer::failed(const Error& e, std::chrono::steady_clock::time_point now) {
  auto lines = static_cast<uint64_t>(std::count(buf_.begin(), buf_.end(), '\n'));
  ++failed_writes_;
  dropped_lines_ += lines;
  unwarned_lines_ += lines;
  if (!failure_warnings_.due(now)) return;
  uint64_t writes = failure_warnings_.take();
  log::warn(kLog, file_->path() + ": " + e.message() + "; dropped " + std::to_string(unwarned_lines_) + " lines in " +
                      std::to_string(writes) + " failed write" + (writes == 1 ? "" : "s since the last warning") +
                      " (at most one such warning a minute)");
  unwarned_lines_ = 0;
}

uint64_t Writer::failedWrites() const {
  std::lock_guard lock(mu_);
  return failed_writes_;
}
uint64_t Writer::droppedLines() const {
  std::lock_guard lock(mu_);
  return dropped_lines_;
}
uint64_t Writer::bytesWritten() const {
  std::lock_guard lock(mu_);
  return file_ ? file_->bytesWritten() : 0;
}
uint64_t Writer::rotations() const {
  std::lock_guard lock(mu_);
  return file_ ? file_->rotations() : 0;
}
uint64_t Writer::fileBytes() const {
  std::lock_guard lock(mu_);
  return file_ ? file_->fileBytes() : 0;
}

}  // namespace km::audit
