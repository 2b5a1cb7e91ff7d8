#include "substrate/local/layout.h"

namespace km::substrate::local {

std::string Layout::sandboxesDir(std::string_view km_home) {
  return std::string(km_home) + "/sandboxes";
}

Layout Layout::forSandbox(std::string_view km_home, std::string_view id) {
  Layout l;
  l.dir = sandboxesDir(km_home) + "/" + std::string(id);
  l.upper = l.dir + "/upper";
  l.work = l.dir + "/work";
  l.root = l.dir + "/root";
  l.workspace = l.dir + "/workspace";
  l.home = l.dir + "/home";
  l.root_home = l.dir + "/roothome";
  l.control_socket = l.dir + "/control.sock";
  l.supervisor_log = l.dir + "/supervisor.log";
  l.init_log = l.dir + "/init.log";
  l.user_file = l.dir + "/user";
  l.plan_file = l.dir + "/plan.json";
  l.init_file = l.dir + "/init";
  l.net_file = l.dir + "/net.json";
  l.network_log = l.dir + "/network.log";
  return l;
}

}  // namespace km::substrate::local
