#include "core/rotating_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace km {

std::string rotatedPath(const std::string& path, int index) {
  return index == 0 ? path : path + "." + std::to_string(index);
}

Result<RotatingFile> RotatingFile::open(std::string path, RotationLimits limits) {
  if (limits.max_file_bytes == 0) return invalidArgument(path + ": a log file's size limit must be above 0");
  if (limits.max_files < 1) return invalidArgument(path + ": at least one log file must be kept");
  RotatingFile f(std::move(path), limits);
  KM_TRY(f.reopen());
  // Files a larger max_files left behind would escape the bound forever: nothing renames
  // over them any more. Rotation keeps the numbers contiguous, so stop at the first gap.
  for (int i = limits.max_files;; ++i) {
    std::string old = rotatedPath(f.path_, i);
    if (::unlink(old.c_str()) != 0) {
      if (errno == ENOENT) break;
      return sys::errnoError("unlink", old, errno);
    }
  }
  return f;
}

Status RotatingFile::reopen() {
  auto fd = sys::open(path_, O_WRONLY | O_APPEND | O_CREAT, 0600);
  if (!fd) return std::move(fd).error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return sys::errnoError("fstat", path_, errno);
  fd_ = std::move(*fd);
  file_bytes_ = static_cast<uint64_t>(st.st_size);
  return ok();
}

Status RotatingFile::rotate() {
  // Oldest first, so each rename lands on a name just vacated (or on the oldest file, which
  // rename(2) then drops). A missing name (a file removed by hand) is skipped. The live fd
  // stays open until the renames succeed: a failed rotation leaves everything as it was.
  if (limits_.max_files == 1) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return sys::errnoError("unlink", path_, errno);
  }
  for (int i = limits_.max_files - 1; i >= 1; --i) {
    std::string from = rotatedPath(path_, i - 1), to = rotatedPath(path_, i);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return sys::errnoError("rename", from + " -> " + to, errno);
    }
  }
  ++rotations_;
  fd_.reset();
  file_bytes_ = 0;
  return reopen();
}

Status RotatingFile::writeRecords(std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      // A short write then an error (ENOSPC) would leave half a record for the next append
      // to run on into: cut it off. Best effort; we are the only writer, so the size is ours.
      if (done > 0) (void)::ftruncate(fd_.get(), static_cast<off_t>(file_bytes_));
      return sys::errnoError("write", path_, err);
    }
    done += static_cast<size_t>(n);
  }
  file_bytes_ += done;
  bytes_written_ += done;
  return ok();
}

Status RotatingFile::append(std::string_view data) {
  if (!fd_.valid()) KM_TRY(reopen());
  const uint64_t max = limits_.max_file_bytes;
  while (!data.empty()) {
    uint64_t room = file_bytes_ < max ? max - file_bytes_ : 0;
    if (data.size() <= room) return writeRecords(data);  // the common case: one write
    // The whole records that still fit: up to the last '\n' within `room` bytes.
    size_t take = 0;
    if (room > 0) {
      size_t nl = data.rfind('\n', static_cast<size_t>(room - 1));
      if (nl != std::string_view::npos) take = nl + 1;
    }
    if (take == 0 && file_bytes_ == 0) {
      // The first record alone is larger than a file may be, and this file is fresh: it
      // goes in whole (rotating again first would only drop an older file for nothing).
      size_t nl = data.find('\n');
      take = nl == std::string_view::npos ? data.size() : nl + 1;
    }
    if (take > 0) {
      KM_TRY(writeRecords(data.substr(0, take)));
      data.remove_prefix(take);
      if (data.empty()) break;
    }
    KM_TRY(rotate());
  }
  return ok();
}

}  // namespace km
