#include "net/nflog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/sys.h"
#include "net/netlink_io.h"

namespace km::net {
namespace {

Error nflogError(std::string_view what, int err) { return sys::errnoError("nflog", what, err); }

nlmsghdr* configHeader(char* buf, uint16_t group, uint32_t seq) {
  return putNfRequest(buf, (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, AF_UNSPEC, group, seq);
}

// Destination, port and protocol from the start of an IP packet.
bool parsePacket(const uint8_t* p, size_t n, NfLog::Entry& e) {
  if (n < 1) return false;
  size_t l4 = 0;
  uint8_t proto = 0;
  if ((p[0] >> 4) == 4) {
    if (n < 20) return false;
    size_t ihl = static_cast<size_t>(p[0] & 0xF) * 4;
    proto = p[9];
    e.dest = IpAddress::v4(p[16], p[17], p[18], p[19]);
    l4 = ihl;
  } else if ((p[0] >> 4) == 6) {
    if (n < 40) return false;
    proto = p[6];
    e.dest.v6 = true;
    std::memcpy(e.dest.bytes.data(), p + 24, 16);
    l4 = 40;
  } else {
    return false;
  }
  e.protocol = ipProtocolName(proto);
  if ((proto == 6 || proto == 17) && n >= l4 + 4) e.port = static_cast<uint16_t>((p[l4 + 2] << 8) | p[l4 + 3]);
  return true;
}

}  // namespace

struct NfLog::Impl {
  mnl_socket* nl = nullptr;
  uint32_t seq = 1;
  std::vector<char> buf = std::vector<char>(1 << 16);
  ~Impl() {
    if (nl) mnl_socket_close(nl);
  }
  Status request(nlmsghdr* nlh, std::string_view what) {
    if (int err = mnlRequest(nl, nlh, buf.data(), buf.size())) return nflogError(what, err);
    return ok();
  }
};

NfLog::NfLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NfLog::NfLog(NfLog&&) noexcept = default;
NfLog& NfLog::operator=(NfLog&&) noexcept = default;
NfLog::~NfLog() = default;

Result<NfLog> NfLog::open(pid_t netns_of, uint16_t group) {
  auto impl = std::make_unique<Impl>();
  int err = 0;
  // The socket reads the log of the namespace it was made in.
  KM_TRY(inNetnsOf(netns_of, [&] {
    impl->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    err = errno;
  }));
  if (!impl->nl) return nflogError("socket", err);
  if (mnl_socket_bind(impl->nl, 0, MNL_SOCKET_AUTOPID) < 0) return nflogError("bind", errno);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = configHeader(buf, group, ++impl->seq);
  nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
  mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
  KM_TRY(impl->request(nlh, "binding group " + std::to_string(group)));
  nlh = configHeader(buf, group, ++impl->seq);
  nfulnl_msg_config_mode mode{};
  mode.copy_range = htonl(128);  // headers are all we read
  mode.copy_mode = NFULNL_COPY_PACKET;
  mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof mode, &mode);
  KM_TRY(impl->request(nlh, "setting the copy mode"));
  ::fcntl(mnl_socket_get_fd(impl->nl), F_SETFL, O_NONBLOCK);
  return NfLog(std::move(impl));
}

int NfLog::fd() const { return mnl_socket_get_fd(impl_->nl); }

int NfLog::drain(const std::function<void(const Entry&)>& fn) {
  int count = 0;
  for (;;) {
    ssize_t n = ::recv(fd(), impl_->buf.data(), impl_->buf.size(), MSG_DONTWAIT);
    if (n <= 0) return count;
    struct Ctx {
      const std::function<void(const Entry&)>* fn;
      int* count;
    } ctx{&fn, &count};
    auto cb = [](const nlmsghdr* h, void* data) -> int {
      auto* c = static_cast<Ctx*>(data);
      if ((h->nlmsg_type & 0xFF) != NFULNL_MSG_PACKET) return MNL_CB_OK;
      const nlattr* tb[NFULA_MAX + 1] = {};
      auto attrCb = [](const nlattr* attr, void* out) -> int {
        auto** table = static_cast<const nlattr**>(out);
        uint16_t type = mnl_attr_get_type(attr);
        if (type <= NFULA_MAX) table[type] = attr;
        return MNL_CB_OK;
      };
      mnl_attr_parse(h, sizeof(nfgenmsg), attrCb, tb);
      if (!tb[NFULA_PAYLOAD]) return MNL_CB_OK;
      NfLog::Entry e;
      if (!parsePacket(static_cast<const uint8_t*>(mnl_attr_get_payload(tb[NFULA_PAYLOAD])),
                       mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]), e)) {
        return MNL_CB_OK;
      }
      if (tb[NFULA_PREFIX]) {
        const char* p = static_cast<const char*>(mnl_attr_get_payload(tb[NFULA_PREFIX]));
        e.prefix.assign(p, strnlen(p, mnl_attr_get_payload_len(tb[NFULA_PREFIX])));
      }
      if (tb[NFULA_UID] && mnl_attr_get_payload_len(tb[NFULA_UID]) == 4) e.uid = ntohl(mnl_attr_get_u32(tb[NFULA_UID]));
      (*c->fn)(e);
      ++*c->count;
      return MNL_CB_OK;
    };
    (void)mnl_cb_run(impl_->buf.data(), static_cast<size_t>(n), 0, 0, cb, &ctx);
  }
}

}  // namespace km::net
