// The logs of a create that failed, kept in $KM_HOME/failed/<id>/ before teardown removes
// the sandbox's directory: the error message names them, so they must still be there.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/rotating_file.h"
#include "core/sys.h"
#include "core/tree.h"
#include "supervisor/supervisor.h"

namespace km::supervisor {

namespace {

// Rotation keeps the numbers contiguous; this only bounds the probe.
constexpr int kMaxRotated = 1000;

// Removes kept logs beyond the newest kFailedLogsKept and any older than kFailedLogsMaxAge.
// Best effort: a directory that cannot be removed now is tried again at the next failure.
void prune(const std::string& top) {
  struct Kept {
    std::string path;
    int64_t mtime_s;
  };
  std::vector<Kept> kept;
  DIR* d = ::opendir(top.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    kept.push_back({top + "/" + name, static_cast<int64_t>(st.st_mtime)});
    if (kept.size() > 100000) break;  // bounds the listing of a directory someone filled
  }
  ::closedir(d);
  std::sort(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) { return a.mtime_s > b.mtime_s; });
  int64_t now_s = static_cast<int64_t>(::time(nullptr));
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i >= kFailedLogsKept || now_s - kept[i].mtime_s > kFailedLogsMaxAge.count()) {
      (void)tree::removeTree(kept[i].path);
    }
  }
}

}  // namespace

Result<std::string> keepFailedLogs(const substrate::SandboxFiles& logs) {
  const std::string& top = logs.failed_top;
  KM_TRY(sys::makeDirs(top, 0700));
  // The sandbox's directory holds only km's files (the sandbox never sees it), but it is
  // opened without following a symlink all the same, and each log is moved by name within
  // the same file system: renameat never follows a symlink, and a writer still holding a log
  // (the supervisor's stderr) goes on writing into the kept file.
  auto from = sys::open(logs.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!from) return std::move(from).error();
  KM_TRY(tree::removeTree(logs.failed_logs));  // an earlier failure of the same id
  if (::mkdir(logs.failed_logs.c_str(), 0700) != 0) return sys::errnoError("mkdir", logs.failed_logs, errno);
  auto to = sys::open(logs.failed_logs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!to) return std::move(to).error();
  for (const std::string* path : {&logs.init_log, &logs.supervisor_log}) {
    std::string log = path->substr(path->rfind('/') + 1);  // both are directly in logs.dir
    for (int i = 0; i <= kMaxRotated; ++i) {
      std::string name = rotatedPath(log, i);
      struct stat st {};
      if (::fstatat(from->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (i == 0) continue;  // the live file may be missing while rotated ones exist
        break;
      }
      if (!S_ISREG(st.st_mode)) continue;
      if (::renameat(from->get(), name.c_str(), to->get(), name.c_str()) != 0) {
        return sys::errnoError("renameat", logs.dir + "/" + name, errno);
      }
    }
  }
  prune(top);
  return logs.failed_logs;
}

}  // namespace km::supervisor
