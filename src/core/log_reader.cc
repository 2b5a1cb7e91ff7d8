#include "core/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/rotating_file.h"

namespace km {
namespace {

constexpr size_t kChunk = 64 << 10;
// A partial line is held in memory; past this it is handed out in pieces instead.
constexpr size_t kMaxLine = 1 << 20;
// Rotation keeps the numbers contiguous, so probing stops at the first gap; this only bounds
// the probe in a directory someone filled with names.
constexpr int kMaxRotated = 1000;

}  // namespace

Status LogReader::openOldest() {
  int oldest = 0;
  struct stat st {};
  while (oldest < kMaxRotated && ::stat(rotatedPath(path_, oldest + 1).c_str(), &st) == 0) ++oldest;
  for (int i = oldest; i >= 0; --i) {
    std::string name = rotatedPath(path_, i);
    auto fd = sys::open(name, O_RDONLY);
    if (!fd) {
      if (fd.error().code() == ErrorCode::kNotFound) continue;  // gone since the probe
      return std::move(fd).error();
    }
    if (::fstat(fd->get(), &st) != 0) return sys::errnoError("fstat", name, errno);
    fd_ = std::move(*fd);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = 0;
    return ok();
  }
  return ok();  // nothing logged yet
}

Status LogReader::drain(const std::function<void(std::string_view)>& on_line, size_t& delivered) {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return sys::errnoError("fstat", path_, errno);
  if (static_cast<uint64_t>(st.st_size) < offset_) {
    // Truncated in place (not by RotatingFile, which renames): what we held is gone.
    offset_ = 0;
    pending_.clear();
  }
  for (;;) {
    size_t held = pending_.size();
    pending_.resize(held + kChunk);
    ssize_t n = ::pread(fd_.get(), pending_.data() + held, kChunk, static_cast<off_t>(offset_));
    int err = errno;
    pending_.resize(held + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n < 0 && err == EINTR) continue;
    if (n < 0) return sys::errnoError("read", path_, err);
    if (n == 0) return ok();
    offset_ += static_cast<uint64_t>(n);
    // The held bytes have no '\n' (else they would have been delivered): search the new ones.
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', std::max(start, held))) != std::string::npos;) {
      on_line(std::string_view(pending_).substr(start, nl - start));
      ++delivered;
      start = nl + 1;
    }
    pending_.erase(0, start);
    if (pending_.size() > kMaxLine) {
      on_line(pending_);
      ++delivered;
      pending_.clear();
    }
  }
}

Result<LogReader::Next> LogReader::next() const {
  auto same = [this](const struct stat& st) { return st.st_dev == dev_ && st.st_ino == ino_; };
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    if (same(st)) return Next{};
  } else if (errno != ENOENT) {
    return sys::errnoError("stat", path_, errno);
  }
  // No longer the live file: under which rotated name is it now? The next newer file is the
  // one numbered below it.
  int oldest = 0;
  for (int i = 1; i <= kMaxRotated; ++i) {
    std::string name = rotatedPath(path_, i);
    if (::stat(name.c_str(), &st) != 0) {
      if (errno == ENOENT) break;
      return sys::errnoError("stat", name, errno);
    }
    if (same(st)) return Next{true, rotatedPath(path_, i - 1)};
    oldest = i;
  }
  // Under no name: rotated out of the last file (or, with one file kept, unlinked). What
  // follows it is the oldest file left.
  return Next{true, rotatedPath(path_, oldest)};
}

Result<size_t> LogReader::poll(const std::function<void(std::string_view)>& on_line) {
  size_t delivered = 0;
  if (!fd_.valid()) {
    KM_TRY(openOldest());
    if (!fd_.valid()) return delivered;
  }
  for (;;) {
    KM_TRY(drain(on_line, delivered));
    auto next_file = next();
    if (!next_file) return std::move(next_file).error();
    if (!next_file->rotated) return delivered;
    // The writer renames only after its last write to a file, and writes to it no more: one
    // more drain reads whatever it wrote between our read and its rename.
    KM_TRY(drain(on_line, delivered));
    auto fd = sys::open(next_file->path, O_RDONLY);
    if (!fd) {
      // Renamed again since we looked, or (one file kept) not created yet: the next poll
      // looks again.
      if (fd.error().code() == ErrorCode::kNotFound) return delivered;
      return std::move(fd).error();
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return sys::errnoError("fstat", next_file->path, errno);
    if (!pending_.empty()) {
      on_line(pending_);  // nothing will complete it now
      ++delivered;
      pending_.clear();
    }
    fd_ = std::move(*fd);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = 0;
  }
}

}  // namespace km
