// km::audit — a sandbox's audit trail: typed records of what its data plane decided (a DNS
// query, a connect, an HTTP request) and of what ran inside it (an exec, an exit), one JSON
// codec that writes them as lines of the network and command logs and reads them back
// (`km logs`), secrets redacted (redact.h) by the writer that appends them to a log.
//
// The codec is pure and thread-safe. The Writer is thread-safe: any service of the
// supervisor (the resolver, the proxy) adds records to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/rotating_file.h"
#include "core/warning_pacer.h"

namespace km::audit {

class Redactor;  // redact.h

using WallTime = std::chrono::system_clock::time_point;

// What a layer did: a DNS query or HTTP request allowed or refused; a connect allowed,
// refused, or sent to the sandbox's resolver or proxy instead. Written "allow", "deny", "redirect".
enum class Decision { kAllow, kDeny, kRedirect };

// One DNS query the sandbox's resolver answered (layer "dns").
struct DnsRecord {
  WallTime time;
  std::string client;     // "10.213.0.2:41234"
  std::string transport;  // udp | tcp
  std::string name;       // as asked
  std::string type;       // "A", "AAAA", …
  Decision decision = Decision::kDeny;  // allow | deny
  std::string reason;     // the rule that allowed it, or why not
  std::string rcode;      // what the client got; "" = dropped
  bool cached = false;
  std::vector<std::string> addresses;  // in the answer
  std::vector<std::string> withheld;   // kept out of the allow map, with why (written when any)
};

// One connect or send the eBPF programs or the sandbox's nftables decided on (layer
// "connect").
struct ConnectRecord {
  WallTime time;
  uint32_t pid = 0;             // 0 when unknown (nftables)
  std::string comm;             // "" when unknown
  std::optional<uint32_t> uid;  // written when known
  std::string dest;             // the address, no brackets
  uint16_t port = 0;
  std::string protocol;         // tcp | udp | icmp | icmpv6 | <number>
  std::string name;             // the allowed name `dest` was resolved for, "" when none
  Decision decision = Decision::kDeny;
  std::string reason;
};

// One request or tunnel the sandbox's HTTP proxy handled (layer "http"): written when it
// ends (or is refused), timed from its start.
struct HttpRecord {
  WallTime time;                // when the request (or connection) arrived
  std::string client;           // "10.213.0.2:41234"
  std::string listener;         // explicit | transparent
  std::string method;           // GET, CONNECT, …; "TLS" for a transparent TLS connection
  std::string host;             // the name it went to (CONNECT authority, SNI or Host)
  uint16_t port = 0;
  std::string path;             // the request path without its query ("" for tunnels)
  std::string dest;             // the address the proxy connected to ("" when it did not)
  std::string mode;             // forward | tunnel | intercept ("" when refused)
  uint16_t status = 0;          // the status the client got; 0 when none (a tunnel, a TLS refusal)
  uint64_t bytes_up = 0;        // request body or tunnel bytes, client → server
  uint64_t bytes_down = 0;      // response body or tunnel bytes, server → client
  uint64_t duration_us = 0;
  Decision decision = Decision::kDeny;  // allow | deny
  std::string reason;           // the rule that allowed it, or why not
};

// One program executed in the sandbox (layer "exec"), seen by the exec audit's eBPF program
// whoever started it (km exec, a shell, a script, an agent, root). Written when it executes.
struct ExecRecord {
  WallTime time;
  uint32_t pid = 0;        // in the sandbox's pid namespace (what `ps` inside shows)
  uint32_t ppid = 0;       // the parent's there; 0 when the parent is outside (km exec's relay)
  uint32_t host_pid = 0;   // the same process in the host's pid namespace
  uint32_t uid = 0;
  std::string path;        // the file executed, as the caller named it (any name: a fd, "./x")
  std::string exe;         // that file's own path in the sandbox (through chroots and fds); "" unknown
  std::vector<std::string> argv;  // the command line after exec (a script's: its interpreter's)
  std::string cwd;         // the working directory inside the sandbox; "" when unknown
  bool truncated = false;  // the command line, a path or the directory was longer than kept
};

// A program whose exec was recorded has ended (layer "exit"): when its last thread exited.
struct ExitRecord {
  WallTime time;
  uint32_t pid = 0;
  uint32_t host_pid = 0;
  std::optional<uint32_t> status;  // its exit status, when it exited
  std::optional<uint32_t> signal;  // the signal that killed it, when one did
  bool core = false;               // it dumped core
  uint64_t duration_us = 0;        // from its exec
};

// Records that were lost (layer "gap"): the audit program's ring buffer was full, so `count`
// records of `source` ("exec") before this one are missing from the log.
struct GapRecord {
  WallTime time;
  std::string source;
  uint64_t count = 0;
};

using Record = std::variant<DnsRecord, ConnectRecord, HttpRecord, ExecRecord, ExitRecord, GapRecord>;

// Appends `record` to `out` as one line of JSON and its newline. Only ASCII is written: a
// byte ≥ 0x80 (comm and names are not promised to be UTF-8) is written \u00XX, the code
// point of the same value. Never fails.
void encode(const Record& record, std::string& out);
std::string encode(const Record& record);

// Redacts the text in `record` that came from the sandbox; returns how many secrets went.
size_t redact(Record& record, const Redactor& redactor);

// Reads one line (without or with its newline) back: decode(encode(r)) == r, time to the
// microsecond. A field missing from the line keeps its default (older km wrote fewer);
// InvalidArgument, saying why, for a line that is not a JSON object, has no time or layer,
// an unknown layer or decision, or a field of the wrong type or out of range.
[[nodiscard]] Result<Record> decode(std::string_view line);

// A record's layer ("dns", "connect", "http", "exec", "exit", "gap") and time.
std::string_view layerName(const Record& record);
WallTime recordTime(const Record& record);

// "allow" | "deny" | "redirect".
std::string_view decisionName(Decision d);
// "2026-01-02T03:04:05.678901Z" (UTC, microseconds), the records' time format.
std::string formatTime(WallTime t);

// Appends records to a rotating log file. Records added between two flush() calls go out
// in one write (syscalls dominate a busy resolver's cost); each service flushes at the end
// of its loop turn. The file is a RotatingFile, so a sandbox that floods cannot fill the
// host's disk.
class Writer {
 public:
  // A writer that records nothing (no log path).
  Writer() = default;
  // Appends to `path` (created 0600), rotated within `limits`; RotatingFile::open's error.
  // With a `redactor`, every record's text that came from the sandbox (names, paths, command
  // lines, directories) is redacted before it is written.
  [[nodiscard]] static Result<std::unique_ptr<Writer>> open(const std::string& path, RotationLimits limits,
                                                            std::shared_ptr<const Redactor> redactor = nullptr);
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  bool enabled() const { return file_.has_value(); }

  // Adds one line to the pending batch (nothing when disabled), redacted.
  void add(const Record& record);
  // Secrets replaced in the records added so far.
  uint64_t redactions() const;

  // Appends the batch (one write unless it rotates) and empties it. When the append fails
  // the batch is dropped, not kept for a retry: a log that cannot be written must neither
  // stall a service nor pile up in memory. Each failure is counted; the supervisor's log
  // gets a warning at the first, then at most one a minute with the counts (a sandbox that
  // can make writes fail cannot flood that log instead), and one when writing works again.
  // `now` paces those warnings.
  void flush(std::chrono::steady_clock::time_point now);

  // Appends that failed, and the lines they dropped, since open.
  uint64_t failedWrites() const;
  uint64_t droppedLines() const;
  // Bytes written and rotations of the file (0 when disabled).
  uint64_t bytesWritten() const;
  uint64_t rotations() const;
  uint64_t fileBytes() const;

 private:
  void failed(const Error& e, std::chrono::steady_clock::time_point now);  // mu_ held

  mutable std::mutex mu_;
  // Everything below is guarded by mu_ (file_ is set once, by open, before sharing).
  std::optional<RotatingFile> file_;
  std::shared_ptr<const Redactor> redactor_;  // set once, by open
  uint64_t redactions_ = 0;
  std::string buf_;  // the pending lines
  uint64_t failed_writes_ = 0, dropped_lines_ = 0;
  WarningPacer failure_warnings_;  // counts failed writes between warnings
  uint64_t unwarned_lines_ = 0;    // lines they dropped
};

}  // namespace km::audit
