// km::RotatingFile — an append-only log of '\n'-terminated records kept within a size bound:
// `path` is the live file, `path.1` … `path.(max_files-1)` the rotated ones (higher is older),
// and the oldest records are dropped to make room. For logs a sandbox can make grow (the
// network log): without a bound one DNS flood fills the host's disk.
// Not thread-safe: one thread appends, and it must be the only writer of `path`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/sys.h"

namespace km {

// The defaults are km's bound for each log a sandbox can make grow: 16 MiB × 4 files, so at
// most 64 MiB per log. The operator config's logs.maxFileSize / logs.maxFiles override them
// (its "16Mi" default is checked against these at compile time).
inline constexpr uint64_t kDefaultLogFileBytes = 16 << 20;
inline constexpr int kDefaultLogFiles = 4;
struct RotationLimits {
  uint64_t max_file_bytes = kDefaultLogFileBytes;  // the live file is rotated before it would pass this
  int max_files = kDefaultLogFiles;                // the live file and the rotated ones, together
};

// `path` for index 0, else "path.<index>": the name of the file `index` rotations old.
std::string rotatedPath(const std::string& path, int index);

class RotatingFile {
 public:
  // Opens (or creates, 0600) `path` for appending and takes its current size as the live
  // file's size, so appends after a restart continue it. Rotated files numbered at or beyond
  // `max_files` (left by a larger limit) are removed. InvalidArgument for a zero size or
  // fewer than one file; the open(2) error (NotFound when the directory is missing,
  // PermissionDenied, …) otherwise.
  [[nodiscard]] static Result<RotatingFile> open(std::string path, RotationLimits limits);

  RotatingFile(RotatingFile&&) noexcept = default;
  RotatingFile& operator=(RotatingFile&&) noexcept = default;
  RotatingFile(const RotatingFile&) = delete;
  RotatingFile& operator=(const RotatingFile&) = delete;
  ~RotatingFile() = default;

  // Appends `data`: whole records, each ending in '\n' (a tail without one counts as a
  // record). When it all fits in the live file it goes in one write(2). Otherwise the records
  // that fit are written, the files are rotated, and the rest goes to the new live file, so a
  // file is only ever cut between records. A record larger than max_file_bytes is written
  // whole into a fresh file of its own (never cut: a torn JSON line is worse than a large
  // file), and the next append rotates it out; so each file holds at most
  // max(max_file_bytes, its one record) bytes.
  // On failure (write, rename or reopen) returns the error; the records of `data` not yet
  // written are not kept, and a partly written record is cut off again. The next append
  // retries the rotation (or the reopen) and never writes past the limit to avoid it.
  [[nodiscard]] Status append(std::string_view data);

  const std::string& path() const { return path_; }
  const RotationLimits& limits() const { return limits_; }
  // Bytes in the live file as far as this writer knows (its size at open plus appends).
  uint64_t fileBytes() const { return file_bytes_; }
  // Bytes appended since open, across rotations.
  uint64_t bytesWritten() const { return bytes_written_; }
  // Rotations done since open.
  uint64_t rotations() const { return rotations_; }
  // The live file's fd (-1 after a failed reopen); borrowed.
  int fd() const { return fd_.get(); }

 private:
  RotatingFile(std::string path, RotationLimits limits) : path_(std::move(path)), limits_(limits) {}
  Status reopen();
  Status rotate();
  Status writeRecords(std::string_view data);

  std::string path_;
  RotationLimits limits_;
  sys::UniqueFd fd_;  // invalid after a failed reopen; append opens it again
  uint64_t file_bytes_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t rotations_ = 0;
};

}  // namespace km
