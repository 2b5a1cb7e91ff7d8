// km::LogReader — reads a rotated log (the files RotatingFile keeps: `path.N` … `path.1`,
// `path`) as one stream of lines, oldest first, and, polled again, what was appended since,
// following `path` across rotations. It never sleeps; the caller decides how often to poll
// (km logs --follow). Works for any file appended to by one writer and rotated by rename.
// Not thread-safe: one thread polls.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <string_view>

#include "core/result.h"
#include "core/sys.h"

namespace km {

class LogReader {
 public:
  // Nothing is opened until the first poll().
  explicit LogReader(std::string path) : path_(std::move(path)) {}
  LogReader(LogReader&&) noexcept = default;
  LogReader& operator=(LogReader&&) noexcept = default;
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // Calls `on_line` with each complete line not delivered before, in order, without its
  // '\n'. The first poll starts at the oldest rotated file. Each poll reads up to the end of
  // the live file; when the file being read was rotated away meanwhile, it reads that file
  // to its end, then goes on with the next newer one from its start, so every line is
  // delivered once (unless the writer rotated it out of the last file before it was read).
  // A last line without its '\n' is held until the newline arrives; at the end of a rotated
  // file (nothing will complete it) it is delivered as it is, and so is a piece of a line
  // longer than 1 MiB. A live file that shrank (truncated in place) is read again from its
  // start. Returns the number of lines delivered; missing files are not an error (nothing
  // logged yet); the open(2) or read(2) error otherwise.
  [[nodiscard]] Result<size_t> poll(const std::function<void(std::string_view)>& on_line);

  // Bytes of a line whose '\n' has not been read yet.
  size_t heldBytes() const { return pending_.size(); }
  // That line as it is, for a reader that stops here on a file nothing will complete (an
  // init log whose last command printed no newline); the reader holds nothing afterwards.
  std::string takeHeld() { return std::exchange(pending_, std::string()); }

 private:
  // The result of looking for the file after the one being read.
  struct Next {
    bool rotated = false;  // false: the current file is still the live one
    std::string path;      // when rotated: the next newer file's name
  };
  Status openOldest();
  Status drain(const std::function<void(std::string_view)>& on_line, size_t& delivered);
  Result<Next> next() const;

  std::string path_;
  sys::UniqueFd fd_;   // the file being read; invalid until one exists
  dev_t dev_ = 0;      // its identity, to recognise it under a rotated name
  ino_t ino_ = 0;
  uint64_t offset_ = 0;
  std::string pending_;  // read bytes after the last '\n'
};

}  // namespace km
