// libFuzzer target for km::github's push reader and ref globs. Input: two bytes choosing where
// to cut, then a receive-pack request body; the same bytes, split at the first '\n', are also a
// glob pattern and a name. Properties: the reader never crashes, hangs or keeps more than one
// pkt-line; its result is the same fed whole, in two pieces, or byte by byte; what it accepts
// is well-formed (valid ref names, oids of one length, consumed ≤ fed) and a refusal's answer
// is well-framed pkt-lines. The glob agrees with a plain dynamic-programming matcher on
// patterns without '[' or '\', and a fully escaped pattern matches exactly itself.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "github/github.h"

using namespace km::github;
using State = ReceivePackCommands::State;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool same(const ReceivePackCommands& a, const ReceivePackCommands& b) {
  if (a.state() != b.state() || a.error() != b.error() || a.capabilities() != b.capabilities()) return false;
  if (a.state() != State::kDone) return true;
  if (a.consumed() != b.consumed() || a.updates().size() != b.updates().size()) return false;
  for (size_t i = 0; i < a.updates().size(); ++i) {
    const auto &x = a.updates()[i], &y = b.updates()[i];
    if (x.refname != y.refname || x.old_oid != y.old_oid || x.new_oid != y.new_oid) return false;
  }
  return true;
}

// Every pkt-line of `body` is framed right, and it ends on a boundary.
bool wellFramed(std::string_view body) {
  while (!body.empty()) {
    if (body.size() < 4) return false;
    size_t len = std::stoul(std::string(body.substr(0, 4)), nullptr, 16);
    if (len == 0) {  // flush-pkt
      body.remove_prefix(4);
      continue;
    }
    if (len < 5) return false;
    if (len > body.size() || len > ReceivePackCommands::kMaxPktLine) return false;
    body.remove_prefix(len);
  }
  return true;
}

void fuzzReceivePack(std::string_view body, size_t cut) {
  ReceivePackCommands whole;
  whole.feed(body);
  ReceivePackCommands split;
  split.feed(body.substr(0, cut));
  split.feed(body.substr(cut));
  check(same(whole, split));
  if (body.size() <= 4096) {
    ReceivePackCommands bytes;
    for (char c : body) bytes.feed(std::string_view(&c, 1));
    check(same(whole, bytes));
  }
  std::vector<RefRefusal> refs;
  if (whole.state() == State::kDone) {
    check(whole.consumed() <= body.size() && whole.consumed() <= ReceivePackCommands::kMaxSectionBytes);
    check(whole.updates().size() <= ReceivePackCommands::kMaxCommands);
    size_t len = whole.updates().empty() ? 40 : whole.updates()[0].old_oid.size();
    for (const auto& u : whole.updates()) {
      check(isValidRefName(u.refname));
      check((len == 40 || len == 64) && u.old_oid.size() == len && u.new_oid.size() == len);
      refs.push_back({u.refname, "refused"});
    }
  } else if (whole.state() == State::kRefused) {
    check(whole.error().rfind("km: push refused: ", 0) == 0);
  }
  check(wellFramed(refusedPushResult(whole.capabilities(), whole.error(), refs)));
}

// A reference matcher for '*' and '?' only: match[i][j] over pattern[0,i) and name[0,j).
bool referenceMatch(std::string_view pattern, std::string_view name) {
  std::vector<char> prev(name.size() + 1, 0), cur(name.size() + 1, 0);
  prev[0] = 1;
  for (size_t j = 1; j <= name.size(); ++j) prev[j] = 0;
  for (size_t i = 1; i <= pattern.size(); ++i) {
    char p = pattern[i - 1];
    cur[0] = p == '*' && prev[0];
    for (size_t j = 1; j <= name.size(); ++j) {
      if (p == '*') {
        cur[j] = prev[j] || cur[j - 1];
      } else {
        cur[j] = prev[j - 1] && (p == '?' || p == name[j - 1]);
      }
    }
    std::swap(prev, cur);
  }
  return prev[name.size()];
}

void fuzzGlob(std::string_view input) {
  size_t nl = input.find('\n');
  if (nl == std::string_view::npos) return;
  std::string_view pattern = input.substr(0, std::min<size_t>(nl, 512));
  std::string_view name = input.substr(nl + 1, 4096);
  auto glob = RefGlob::compile(pattern);
  bool plain = pattern.find_first_of("[\\") == std::string_view::npos;
  if (plain) check(glob.has_value());
  if (glob) {
    bool m = glob->matches(name);
    if (plain) check(m == referenceMatch(pattern, name));
  }
  std::string escaped;
  for (char c : pattern) {
    escaped += '\\';
    escaped += c;
  }
  auto literal = RefGlob::compile(escaped);
  check(literal.has_value());
  check(literal->matches(pattern));
  check(literal->matches(name) == (name == pattern));
  auto refs = RefAllowlist::parse({std::string(pattern)});
  if (refs) (void)refs->allows(name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t cut = ((static_cast<size_t>(data[0]) << 8) | data[1]) % (body.size() + 1);
  fuzzReceivePack(body, cut);
  fuzzGlob(body);
  return 0;
}
