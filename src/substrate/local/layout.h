// Where a local sandbox keeps its files under $KM_HOME (private to substrate: other modules
// get it through local.h, and the log paths alone through sandboxLogs). Pure path arithmetic.
#pragma once

#include <string>
#include <string_view>

namespace km::substrate::local {

// Two places: km's own files about the sandbox (dir: logs, socket, plan — nothing the sandbox
// can write) and the sandbox's disk (everything it can write, size-limited; see disk.h).
struct Layout {
  std::string dir;             // $KM_HOME/sandboxes/<id>            (0700)
  std::string disk_name;       // <id>: the sandbox's disk in $KM_HOME/disk
  std::string disk;            // $KM_HOME/disk/<id>
  std::string volume_name;     // <id>.volume: spec.runtime.additionalVolume's disk
  std::string volume;          // $KM_HOME/disk/<id>.volume
  std::string upper;           // disk/upper: overlay upper dir, the sandbox's writes
  std::string work;            // disk/work: overlay work dir
  std::string root;            // mount point of the merged root (in the sandbox's mount ns)
  std::string workspace;       // disk/workspace: the persistent working directory
  std::string home;            // disk/home: /home/<user> inside
  std::string root_home;       // disk/roothome: /root inside
  std::string control_socket;  // the supervisor's control socket
  std::string supervisor_log;
  std::string init_log;        // output of initCommands
  std::string user_file;       // the sandbox user's uid and gid
  std::string plan_file;       // the compiled plan (immutable after create)
  std::string init_file;       // "PID START" of the running init; absent while stopped
  std::string net_file;        // the sandbox's network facts (veth, addresses) while running
  std::string network_log;     // DNS, connect and HTTP decisions, JSON lines
  std::string command_log;     // programs executed inside and their exits, JSON lines
  std::string failed_logs;     // $KM_HOME/failed/<id>: the logs of a create that failed

  static Layout forSandbox(std::string_view km_home, std::string_view id);
  // $KM_HOME/sandboxes: every sandbox directory lives here (doctor scans it).
  static std::string sandboxesDir(std::string_view km_home);
  // $KM_HOME/failed: the kept logs of failed creates, one directory per sandbox id.
  static std::string failedDir(std::string_view km_home);
  // $KM_HOME/disk: every sandbox's disk (the store's mount point).
  static std::string disksDir(std::string_view km_home);
};

}  // namespace km::substrate::local
