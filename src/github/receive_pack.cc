// ReceivePackCommands: the command section of a push, read incrementally. The reader keeps at
// most one pkt-line (≤ 65520 bytes) buffered, so however the body is cut into chunks it sees
// the same pkt-lines in the same order; every refusal is decided on whole pkt-lines.
#include <algorithm>

#include "core/strings.h"
#include "github/github.h"

namespace km::github {
namespace {

constexpr std::string_view kRefused = "km: push refused: ";

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;  // git's own reader takes either case
  return -1;
}

bool isLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

bool hasCapability(std::string_view capabilities, std::string_view name) {
  for (const auto& token : split(capabilities, ' ')) {
    if (token == name || (startsWith(token, name) && token.size() > name.size() && token[name.size()] == '=')) return true;
  }
  return false;
}

bool ReceivePackCommands::hasCapability(std::string_view name) const {
  return github::hasCapability(capabilities_, name);
}

ReceivePackCommands::State ReceivePackCommands::refuse(std::string why) {
  error_ = std::string(kRefused) + why;
  state_ = State::kRefused;
  return state_;
}

ReceivePackCommands::State ReceivePackCommands::feed(std::string_view chunk) {
  size_t i = 0;
  while (state_ == State::kNeedMore && i < chunk.size()) {
    size_t need = (want_ == 0 ? 4 : want_) - pending_.size();
    size_t take = std::min(need, chunk.size() - i);
    pending_.append(chunk.substr(i, take));
    i += take;
    consumed_ += take;
    if (take < need) break;
    if (want_ == 0) {
      size_t len = 0;
      for (char c : pending_) {
        int d = hexDigit(c);
        if (d < 0) return refuse("the request is not a git push (bad pkt-line length " + quoted(pending_) + ")");
        len = len * 16 + static_cast<size_t>(d);
      }
      if (len == 0) {
        // The flush ends the commands. With none before it, this is git's probe before a
        // large push (a body of just "0000"): the server updates nothing and reads no pack.
        state_ = State::kDone;
        return state_;
      }
      if (len <= 4) {
        return refuse("unexpected special pkt-line " + pending_ + " in the push's commands");
      }
      if (len > kMaxPktLine) return refuse("a pkt-line in the push's commands is longer than 65520 bytes");
      // The section's bytes so far, this line, and the flush-pkt that must still follow.
      if (consumed_ + (len - 4) + 4 > kMaxSectionBytes) {
        return refuse("the push's ref update commands exceed 4 MiB");
      }
      want_ = len;
      pending_.reserve(len);
      continue;
    }
    std::string line = std::move(pending_);
    pending_.clear();
    want_ = 0;
    takeLine(std::string_view(line).substr(4));
  }
  return state_;
}

ReceivePackCommands::State ReceivePackCommands::takeLine(std::string_view payload) {
  bool first = updates_.empty();
  if (first && startsWith(payload, "push-cert") &&
      (payload.size() == 9 || payload[9] == '\0' || payload[9] == '\n')) {
    if (payload.size() > 9 && payload[9] == '\0') {
      std::string_view caps = payload.substr(10);
      if (!caps.empty() && caps.back() == '\n') caps.remove_suffix(1);
      capabilities_ = std::string(caps);
    }
    return refuse("signed pushes (git push --signed) are not supported through km's proxy; push without --signed");
  }
  if (startsWith(payload, "shallow ")) {
    if (!first) return refuse("a 'shallow' line follows a ref update command");
    std::string_view oid = payload.substr(8);
    if (!oid.empty() && oid.back() == '\n') oid.remove_suffix(1);
    if ((oid.size() != 40 && oid.size() != 64) || !isLowerHex(oid) || (oid_hex_ != 0 && oid.size() != oid_hex_)) {
      return refuse("malformed 'shallow' line in the push request");
    }
    oid_hex_ = oid.size();
    return state_;
  }
  return takeCommand(payload);
}

ReceivePackCommands::State ReceivePackCommands::takeCommand(std::string_view payload) {
  size_t index = updates_.size() + 1;
  auto malformed = [&](std::string_view what) {
    return refuse("malformed ref update command " + std::to_string(index) + " in the push request (" +
                  std::string(what) + ")");
  };
  if (updates_.size() == kMaxCommands) return refuse("a push may update at most 10000 refs");
  if (!payload.empty() && payload.back() == '\n') payload.remove_suffix(1);
  size_t nul = payload.find('\0');
  if (updates_.empty()) {
    if (nul != std::string_view::npos) {
      capabilities_ = std::string(payload.substr(nul + 1));
      payload = payload.substr(0, nul);
      // The client names its hash; oids of another length are not what the server will read.
      size_t expect = 0;
      for (const auto& token : split(capabilities_, ' ')) {
        if (!startsWith(token, "object-format=")) continue;
        std::string_view algo = std::string_view(token).substr(14);
        expect = algo == "sha1" ? 40 : algo == "sha256" ? 64 : 0;
        if (expect == 0) return refuse("unknown object-format " + quoted(algo) + " in the push's capabilities");
      }
      if (expect != 0 && oid_hex_ != 0 && oid_hex_ != expect) return malformed("object ids do not match object-format");
      if (expect != 0) oid_hex_ = expect;
    }
  } else if (nul != std::string_view::npos) {
    return malformed("NUL byte");
  }
  size_t sp1 = payload.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : payload.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return malformed("expected '<old-oid> <new-oid> <ref>'");
  std::string_view old_oid = payload.substr(0, sp1);
  std::string_view new_oid = payload.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view refname = payload.substr(sp2 + 1);
  if ((old_oid.size() != 40 && old_oid.size() != 64) || new_oid.size() != old_oid.size() || !isLowerHex(old_oid) ||
      !isLowerHex(new_oid)) {
    return malformed("object ids must be 40 or 64 lowercase hex digits");
  }
  if (oid_hex_ != 0 && old_oid.size() != oid_hex_) return malformed("object ids of different lengths");
  oid_hex_ = old_oid.size();
  if (!isValidRefName(refname)) {
    return refuse(quoted(refname) + " is not a valid ref name");
  }
  updates_.push_back(RefUpdate{std::string(old_oid), std::string(new_oid), std::string(refname)});
  return state_;
}

std::string pktLine(std::string_view payload) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t len = payload.size() + 4;
  std::string out;
  out.reserve(len);
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(len >> shift) & 0xf]);
  out.append(payload);
  return out;
}

}  // namespace km::github
