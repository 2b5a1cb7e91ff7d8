#include "substrate/local/layout.h"

#include "substrate/local/local.h"

namespace km::substrate::local {

std::string Layout::sandboxesDir(std::string_view km_home) {
  return std::string(km_home) + "/sandboxes";
}

std::string Layout::failedDir(std::string_view km_home) { return std::string(km_home) + "/failed"; }

std::string Layout::disksDir(std::string_view km_home) { return std::string(km_home) + "/disk"; }

Layout Layout::forSandbox(std::string_view km_home, std::string_view id) {
  Layout l;
  l.dir = sandboxesDir(km_home) + "/" + std::string(id);
  l.disk_name = std::string(id);
  l.disk = disksDir(km_home) + "/" + l.disk_name;
  l.volume_name = l.disk_name + ".volume";
  l.volume = disksDir(km_home) + "/" + l.volume_name;
  l.upper = l.disk + "/upper";
  l.work = l.disk + "/work";
  l.root = l.dir + "/root";
  l.workspace = l.disk + "/workspace";
  l.home = l.disk + "/home";
  l.root_home = l.disk + "/roothome";
  l.control_socket = l.dir + "/control.sock";
  l.supervisor_log = l.dir + "/supervisor.log";
  l.init_log = l.dir + "/init.log";
  l.user_file = l.dir + "/user";
  l.plan_file = l.dir + "/plan.json";
  l.init_file = l.dir + "/init";
  l.net_file = l.dir + "/net.json";
  l.network_log = l.dir + "/network.log";
  l.command_log = l.dir + "/commands.log";
  l.failed_logs = failedDir(km_home) + "/" + std::string(id);
  return l;
}

SandboxFiles sandboxFiles(std::string_view km_home, std::string_view id) {
  Layout l = Layout::forSandbox(km_home, id);
  SandboxFiles f;
  f.dir = l.dir;
  f.control_socket = l.control_socket;
  f.supervisor_log = l.supervisor_log;
  f.init_log = l.init_log;
  f.plan_file = l.plan_file;
  f.init_file = l.init_file;
  f.net_file = l.net_file;
  f.network_log = l.network_log;
  f.command_log = l.command_log;
  f.failed_logs = l.failed_logs;
  f.failed_top = Layout::failedDir(km_home);
  return f;
}

}  // namespace km::substrate::local
