#include "audit/exec_event.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "audit/bpf/exec_shared.h"

namespace km::audit {
namespace {

// A monotonic clock runs from boot; a value beyond a century of uptime is no clock reading
// (a record km's programs did not write), clamped so the time stays one the log can hold.
constexpr uint64_t kMaxMonotonicNs = uint64_t{100} * 365 * 24 * 3600 * 1'000'000'000;

WallTime wallTime(uint64_t monotonic_ns, int64_t offset_ns) {
  auto ns = static_cast<int64_t>(std::min(monotonic_ns, kMaxMonotonicNs)) + offset_ns;
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(std::max<int64_t>(ns, 0))));
}

// NUL-terminated pieces; a last piece without its NUL (cut short) counts too.
std::vector<std::string> pieces(std::string_view bytes) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    size_t nul = bytes.find('\0');
    out.emplace_back(bytes.substr(0, nul));
    if (nul == std::string_view::npos) break;
    bytes.remove_prefix(nul + 1);
  }
  return out;
}

// A path from its names, innermost first; "..." before it when its outer part was cut.
std::string joinPath(std::string_view innermost_first, bool unknown, bool cut) {
  if (unknown) return "";
  std::vector<std::string> names = pieces(innermost_first);
  std::string out = cut ? "..." : "";
  for (auto it = names.rbegin(); it != names.rend(); ++it) out += "/" + *it;
  return out.empty() ? "/" : out;
}

// A command line cut at the kernel's bound ends in a word that may be the first part of a
// secret the redactor can no longer recognise: that word goes.
void dropCutWord(std::vector<std::string>& argv) {
  if (argv.empty()) return;
  std::string& last = argv.back();
  size_t end = last.find_last_of(" \t\n=:,;&|'\"");
  last = end == std::string::npos ? "" : last.substr(0, end + 1);
  last += "...";
}

}  // namespace

std::optional<Record> execEventRecord(const void* data, size_t size, int64_t offset_ns) {
  km_exec_head h;
  if (size < sizeof h) return std::nullopt;
  std::memcpy(&h, data, sizeof h);
  const char* body = static_cast<const char*>(data) + sizeof h;
  size_t body_size = size - sizeof h;
  if (h.kind == KM_EXEC_KIND_EXEC) {
    size_t need = size_t{h.argv_len} + h.path_len + h.cwd_len + h.exe_len;
    if (need > body_size) return std::nullopt;
    ExecRecord r;
    r.time = wallTime(h.ts_ns, offset_ns);
    r.pid = h.pid;
    r.ppid = h.ppid;
    r.host_pid = h.host_pid;
    r.uid = h.uid;
    std::string_view argv(body, h.argv_len), path(body + h.argv_len, h.path_len),
        cwd(body + h.argv_len + h.path_len, h.cwd_len), exe(body + h.argv_len + h.path_len + h.cwd_len, h.exe_len);
    r.argv = pieces(argv);
    if (h.flags & KM_EXEC_ARGV_CUT) dropCutWord(r.argv);
    auto p = pieces(path);
    if (!p.empty()) r.path = p.front();
    if (h.flags & KM_EXEC_PATH_CUT) r.path += "...";
    r.cwd = joinPath(cwd, h.flags & KM_EXEC_CWD_UNKNOWN, h.flags & KM_EXEC_CWD_CUT);
    r.exe = joinPath(exe, h.flags & KM_EXEC_EXE_UNKNOWN, h.flags & KM_EXEC_EXE_CUT);
    r.truncated = (h.flags & (KM_EXEC_ARGV_CUT | KM_EXEC_CWD_CUT | KM_EXEC_PATH_CUT | KM_EXEC_EXE_CUT)) != 0;
    return r;
  }
  if (h.kind == KM_EXEC_KIND_EXIT) {
    ExitRecord r;
    r.time = wallTime(h.ts_ns, offset_ns);
    r.pid = h.pid;
    r.host_pid = h.host_pid;
    auto code = static_cast<uint32_t>(h.exit_code);
    if ((code & 0x7f) == 0) {
      r.status = (code >> 8) & 0xff;
    } else {
      r.signal = code & 0x7f;
      r.core = (code & 0x80) != 0;
    }
    if (h.exec_ts_ns != 0 && h.ts_ns >= h.exec_ts_ns) r.duration_us = (h.ts_ns - h.exec_ts_ns) / 1000;
    return r;
  }
  return std::nullopt;
}

}  // namespace km::audit
