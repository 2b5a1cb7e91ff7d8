#include "net/network_log.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/log.h"

namespace km::net {
namespace {

constexpr std::string_view kLog = "net";

std::string isoTime(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(us / 1000000);
  tm utc{};
  ::gmtime_r(&secs, &utc);
  char buf[48];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(us % 1000000));
  return buf;
}

void jsonString(std::string& out, std::string_view v) {
  out.push_back('"');
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        // Controls, and bytes ≥ 0x80 (comm and client labels are not promised to be
        // UTF-8; each such byte is written as the code point of the same value).
        if (c < 0x20 || c >= 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

Result<NetworkLog> NetworkLog::open(const std::string& path, RotationLimits limits) {
  auto file = RotatingFile::open(path, limits);
  if (!file) return std::move(file).error();
  NetworkLog log;
  log.file_.emplace(std::move(*file));
  return log;
}

void NetworkLog::flush(std::chrono::steady_clock::time_point now) {
  if (buf_.empty()) return;
  if (file_) {
    if (Status s = file_->append(buf_); !s) {
      failed(s.error(), now);
    } else if (failure_warnings_.active()) {
      log::warn(kLog, "network log " + file_->path() + " is written again; " + std::to_string(dropped_lines_) +
                          " lines were dropped in " + std::to_string(failed_writes_) + " failed writes so far");
      failure_warnings_.clear();
      unwarned_lines_ = 0;
    }
  }
  buf_.clear();
}

void NetworkLog::failed(const Error& e, std::chrono::steady_clock::time_point now) {
  uint64_t lines = static_cast<uint64_t>(std::count(buf_.begin(), buf_.end(), '\n'));
  ++failed_writes_;
  dropped_lines_ += lines;
  unwarned_lines_ += lines;
  if (!failure_warnings_.due(now)) return;
  uint64_t writes = failure_warnings_.take();
  log::warn(kLog, "network log: " + e.message() + "; dropped " + std::to_string(unwarned_lines_) + " lines in " +
                      std::to_string(writes) + " failed write" + (writes == 1 ? "" : "s since the last warning") +
                      " (at most one such warning a minute)");
  unwarned_lines_ = 0;
}

void NetworkLog::field(std::string_view key, std::string_view value, bool first) {
  if (!first) buf_.push_back(',');
  jsonString(buf_, key);
  buf_.push_back(':');
  jsonString(buf_, value);
}

void NetworkLog::fieldRaw(std::string_view key, std::string_view raw) {
  buf_.push_back(',');
  jsonString(buf_, key);
  buf_.push_back(':');
  buf_ += raw;
}

void NetworkLog::fieldList(std::string_view key, const std::vector<std::string>& list) {
  buf_.push_back(',');
  jsonString(buf_, key);
  buf_ += ":[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) buf_.push_back(',');
    jsonString(buf_, list[i]);
  }
  buf_.push_back(']');
}

void NetworkLog::dns(const dns::LogEntry& e) {
  if (!enabled()) return;
  buf_.push_back('{');
  field("time", isoTime(e.time), true);
  field("layer", "dns");
  field("client", e.client);
  field("transport", e.transport);
  field("name", e.name);
  field("type", e.type);
  field("decision", e.allowed ? "allow" : "deny");
  field("reason", e.reason);
  field("rcode", e.rcode);
  fieldRaw("cached", e.cached ? "true" : "false");
  fieldList("addresses", e.addresses);
  if (!e.withheld.empty()) fieldList("withheld", e.withheld);
  buf_ += "}\n";
}

void NetworkLog::gate(const GateEvent& g, std::string_view name) {
  if (!enabled()) return;
  auto now_wall = std::chrono::system_clock::now();
  uint64_t now_mono = monotonicNs();
  auto ago = std::chrono::nanoseconds(now_mono > g.monotonic_ns ? now_mono - g.monotonic_ns : 0);
  buf_.push_back('{');
  field("time", isoTime(now_wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(ago)), true);
  field("layer", "connect");
  fieldRaw("pid", std::to_string(g.pid));
  field("comm", g.comm);
  field("dest", g.address.toString());
  fieldRaw("port", std::to_string(g.port));
  field("protocol", g.protocol);
  field("name", name);
  field("decision", g.verdict);
  field("reason", g.reason);
  buf_ += "}\n";
}

void NetworkLog::nf(const NfLog::Entry& n, std::string_view name) {
  if (!enabled()) return;
  std::string verdict = "deny", reason = "enforcement proxy: only DNS and web traffic (through the proxy) may leave";
  if (n.prefix == "km-proxy") {
    verdict = "redirect";
    reason = "web traffic sent to the proxy";
  } else if (n.prefix == "km-dns") {
    verdict = "redirect";
    reason = "DNS sent to the sandbox's resolver instead";
  }
  buf_.push_back('{');
  field("time", isoTime(std::chrono::system_clock::now()), true);
  field("layer", "connect");
  fieldRaw("pid", "0");
  field("comm", "");
  if (n.uid) fieldRaw("uid", std::to_string(*n.uid));
  field("dest", n.dest.toString());
  fieldRaw("port", std::to_string(n.port));
  field("protocol", n.protocol);
  field("name", name);
  field("decision", verdict);
  field("reason", reason);
  buf_ += "}\n";
}

}  // namespace km::net
