// File helpers at the edge of the pure modules. Each returns a Result naming the path and
// errno text. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace km::fs {

// Whole file as bytes. NotFound if missing, InvalidArgument if larger than `max_bytes`,
// Unavailable for other I/O errors.
[[nodiscard]] Result<std::string> readFile(const std::string& path, size_t max_bytes = 16 << 20);

// The last `max_bytes` bytes of a regular file (all of a smaller one), starting after the
// first newline in them when the file is longer (whole lines only). Errors as readFile;
// InvalidArgument for anything but a regular file (a FIFO is never waited on).
[[nodiscard]] Result<std::string> readTail(const std::string& path, size_t max_bytes);

// Writes via a temp file in the same directory and rename(2), so readers never see half a file.
// An existing file keeps its permission bits; a symlink's target is replaced, not the link.
[[nodiscard]] Status writeFileAtomic(const std::string& path, std::string_view data);

bool exists(const std::string& path);
bool isDirectory(const std::string& path);

// "~/x" → "$HOME/x"; other paths unchanged.
std::string expandHome(std::string_view path);

// Directory part of a path ("a/b.yaml" → "a", "b.yaml" → ".").
std::string dirName(std::string_view path);
// Last component without a trailing ".yaml"/".yml" extension.
std::string stemName(std::string_view path);
// Absolute, normalised form of `path` (no symlink resolution needed for identity keys).
std::string absolutePath(std::string_view path);

}  // namespace km::fs
