// km logs SB [--commands | --network | --supervisor | --init] [--follow] [--json]: a sandbox's logs.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string_view>
#include <variant>
#include <vector>

#include "audit/audit.h"
#include "agent/agent.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "core/fs.h"
#include "core/strings.h"
#include "core/log_reader.h"
#include "core/timeline.h"
#include "doc/json_io.h"

namespace km::cli {
namespace {

struct LogsArgs {
  std::string ref;
  bool network = false;
  bool commands = false;
  bool supervisor = false;
  bool init = false;
  bool follow = false;
};

std::string joined(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// "HH:MM:SS.mmm layer   " before a record's summary.
std::string head(audit::WallTime time, std::string_view layer) {
  std::string t = audit::formatTime(time).substr(11, 12);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%-12s %-7.*s ", t.c_str(), static_cast<int>(layer.size()), layer.data());
  return buf;
}

// "decision " in its column, before what a network layer decided on.
std::string decided(audit::Decision decision) {
  char buf[16];
  std::string_view d = audit::decisionName(decision);
  std::snprintf(buf, sizeof buf, "%-8.*s ", static_cast<int>(d.size()), d.data());
  return buf;
}

// Each record without its time and layer: what happened, and why.
std::string summary(const audit::DnsRecord& r) {
  std::string what = r.name + " " + r.type + " " + r.rcode;
  if (!r.addresses.empty()) what += " → " + joined(r.addresses);
  if (r.cached) what += " (cached)";
  what += " from " + r.client + "/" + r.transport;
  std::string reason = r.reason;
  if (!r.withheld.empty()) reason += "; withheld " + joined(r.withheld);
  return decided(r.decision) + what + (reason.empty() ? "" : ": " + reason);
}

std::string summary(const audit::ConnectRecord& r) {
  std::string dest = r.dest.find(':') != std::string::npos ? "[" + r.dest + "]" : r.dest;
  std::string what = r.comm + "[" + std::to_string(r.pid) + "] → " + dest + ":" + std::to_string(r.port) + "/" + r.protocol;
  if (!r.name.empty()) what += " (" + r.name + ")";
  return decided(r.decision) + what + (r.reason.empty() ? "" : ": " + r.reason);
}

std::string summary(const audit::HttpRecord& r) {
  std::string what = r.method + " " + r.host + ":" + std::to_string(r.port) + r.path;
  if (r.status) what += " " + std::to_string(r.status);
  if (!r.mode.empty()) what += " (" + r.mode + (r.dest.empty() ? "" : " via " + r.dest) + ")";
  if (r.decision == audit::Decision::kAllow) {
    what += " ↑" + std::to_string(r.bytes_up) + " ↓" + std::to_string(r.bytes_down) + " " +
            std::to_string(r.duration_us / 1000) + "ms";
  }
  what += " from " + r.client + "/" + r.listener;
  return decided(r.decision) + what + (r.reason.empty() ? "" : ": " + r.reason);
}

// An argument as a shell would need it to read it back: bare when it is plain, else quoted.
std::string shellWord(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                            "-_./:=@%+,") == std::string::npos) {
    return arg;
  }
  return agent::shellQuote(arg);
}

// "[pid 12<-1 uid 1000] /home/sandbox $ ls -la  (/usr/bin/ls)"
std::string summary(const audit::ExecRecord& r) {
  std::string what = "[pid " + std::to_string(r.pid) + "<-" + std::to_string(r.ppid) + " uid " + std::to_string(r.uid) +
                     "] " + (r.cwd.empty() ? "?" : r.cwd) + " $";
  for (const auto& a : r.argv) what += " " + shellWord(a);
  // The file that ran, whatever the command line calls itself (argv[0] is the caller's
  // choice, and a look-alike name proves nothing): its own path, else the name it was given.
  const std::string& file = r.exe.empty() ? r.path : r.exe;
  if (r.argv.empty() || file != r.argv.front()) what += "  (" + (file.empty() ? "?" : file) + ")";
  if (r.truncated) what += " [cut]";
  return what;
}

std::string summary(const audit::ExitRecord& r) {
  std::string what = "[pid " + std::to_string(r.pid) + "] ";
  if (r.signal) {
    what += "killed by signal " + std::to_string(*r.signal) + (r.core ? " (core dumped)" : "");
  } else {
    what += "exited " + std::to_string(r.status.value_or(0));
  }
  return what + " after " + std::to_string(r.duration_us / 1000) + "ms";
}

std::string summary(const audit::GapRecord& r) {
  return std::to_string(r.count) + " " + r.source + " records lost (the sandbox ran more than could be recorded)";
}

std::string summary(const audit::Record& record) {
  return std::visit([](const auto& r) { return summary(r); }, record);
}

// One audit log line for people: time, layer, (decision,) what, why. A line that is not an
// audit record is shown as it is.
std::string human(std::string_view line) {
  auto record = audit::decode(line);
  if (!record) return std::string(line);
  return head(audit::recordTime(*record), audit::layerName(*record)) + summary(*record);
}

// An audit record as an entry of the merged view: its time, "commands" or "network", its
// layer, its summary as the message, and the line itself (for --json). Decoded once.
std::optional<TimelineEntry> auditEntry(std::string_view line, std::string_view source) {
  auto record = audit::decode(line);
  if (!record) return std::nullopt;
  TimelineEntry e;
  e.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(audit::recordTime(*record).time_since_epoch()).count();
  e.source = std::string(source);
  e.kind = std::string(audit::layerName(*record));
  e.message = summary(*record);
  e.raw = std::string(line);
  return e;
}

bool isAudit(const TimelineEntry& e) { return e.source == "commands" || e.source == "network"; }

volatile sig_atomic_t g_stop = 0;

// The newest events shown (each poll of --follow asks for fewer, growing only when more came).
constexpr size_t kMaxEvents = 10000;
constexpr size_t kFollowEvents = 64;

// `json` with every non-ASCII character written \uXXXX: valid JSON whatever bytes the text
// had (toJson has replaced invalid UTF-8 already), and nothing but ASCII reaches a terminal.
std::string asciiJson(const doc::Node& n) {
  std::string in = doc::toJson(n, -1), out;
  out.reserve(in.size());
  auto u = [&](uint32_t cp) {  // cp < 0x10000 here
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xf];
  };
  for (size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
    for (size_t k = 1; k < len && i + k < in.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(in[i + k]) & 0x3f);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u(0xd800 + (cp >> 10));
      u(0xdc00 + (cp & 0x3ff));
    } else {
      u(cp);
    }
  }
  return out;
}

// One JSON object per entry: {"time", "source", "kind" (events) or "level" and "logger"
// (supervisor lines), "message"}; time is null for a line without one.
std::string entryJson(const TimelineEntry& e) {
  if (isAudit(e)) {
    // {"time","source","kind","message","record":{…}}: the record as --commands/--network write it.
    doc::Node n = doc::Node::map();
    n.set("time", doc::Node::string(formatTimeMs(*e.time_ms)));
    n.set("source", doc::Node::string(e.source));
    n.set("kind", doc::Node::string(e.kind));
    n.set("message", doc::Node::string(e.message));
    std::string head = asciiJson(n);
    head.pop_back();  // the record's line is ASCII JSON already
    return head + ",\"record\":" + e.raw + "}";
  }
  doc::Node n = doc::Node::map();
  n.set("time", e.time_ms ? doc::Node::string(formatTimeMs(*e.time_ms)) : doc::Node::null());
  n.set("source", doc::Node::string(e.source));
  if (e.time_ms) {
    n.set(e.source == "event" ? "kind" : "level", doc::Node::string(e.kind));
    if (!e.logger.empty()) n.set("logger", doc::Node::string(e.logger));
  }
  n.set("message", doc::Node::string(e.message));
  return asciiJson(n);
}

// "TIME  event    KIND  DETAIL" / "TIME  LEVEL    [LOGGER] MESSAGE"; a line without a time as it is.
std::string entryText(const TimelineEntry& e) {
  if (!e.time_ms) return e.message;
  char head[64];
  std::snprintf(head, sizeof head, "%s  %-8s ", formatTimeMs(*e.time_ms).c_str(),
                e.source == "event" ? "event" : e.kind.c_str());
  if (isAudit(e)) return head + e.message;
  if (e.source == "event") return head + e.kind + (e.message.empty() ? "" : "  " + e.message);
  return head + ("[" + e.logger + "] ") + e.message;
}

TimelineEntry eventEntry(const store::Event& ev) {
  TimelineEntry e;
  e.time_ms = ev.at_ms;
  e.source = "event";
  e.kind = ev.kind;
  e.message = ev.detail;
  return e;
}

// The events of `id` after `after_id`, oldest first: asks for a few, and for more only when
// every one of them was new.
Result<std::vector<store::Event>> newEvents(store::FleetStore& store, const std::string& id, int64_t after_id,
                                            size_t first_ask) {
  for (size_t limit = first_ask;; limit = std::min(limit * 4, kMaxEvents)) {
    auto evs = store.events(id, limit);
    if (!evs) return std::move(evs).error();
    bool all_new = evs->size() == limit && !evs->empty() && evs->front().id > after_id;
    if (!all_new || limit == kMaxEvents) {
      std::vector<store::Event> out;
      for (auto& ev : *evs) {
        if (ev.id > after_id) out.push_back(std::move(ev));
      }
      return out;
    }
  }
}

int runLogs(const LogsArgs& a, Context& ctx) {
  if (int(a.network) + int(a.commands) + int(a.init) + int(a.supervisor) > 1) {
    printErr("ERROR: --network, --commands, --supervisor and --init name different logs; give at most one");
    return kExitUsage;
  }
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto rec = resolveOrPrint(*store, a.ref);
  if (!rec) return kExitFailed;
  auto files = fleet::sandboxFiles(fleetEnv(ctx), *rec);
  if (!files) return printFailure(files.error());
  const substrate::SandboxFiles& layout = *files;
  // The timeline: events and the supervisor's log, and (unless --supervisor) the command and
  // network logs, merged in time order.
  bool timeline = !a.network && !a.commands && !a.init;
  bool with_audit = timeline && !a.supervisor;
  std::string path = a.network ? layout.network_log
                     : a.commands ? layout.command_log
                     : a.init ? layout.init_log
                              : layout.supervisor_log;
  bool json = ctx.globals().json;
  if (!timeline && !fs::exists(layout.dir) && !a.follow) {
    return printFailure(notFound("sandbox " + rec->id + " has no files here"));
  }
  g_stop = 0;
  ::signal(SIGINT, [](int) { g_stop = 1; });
  ::signal(SIGTERM, [](int) { g_stop = 1; });
  auto out = [](const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  };
  // Everything in these logs may have come out of the sandbox (its process and DNS names, its
  // command lines, its init commands' output, text the supervisor quoted): no control
  // sequence of its reaches the terminal. The audit logs' JSON lines are ASCII already (their
  // writer escapes every other byte); the other JSON is made ASCII here.
  TimelineMerge merge([&](const TimelineEntry& e) {
    out(json ? entryJson(e) : escapeForTerminal(entryText(e), /*keep_newlines=*/false));
  });
  auto print = [&](std::string_view line) {
    if (timeline) {
      merge.stream(parseLogLine(line));
    } else if (a.init) {
      if (json) {
        doc::Node n = doc::Node::map();
        n.set("line", doc::Node::string(std::string(line)));
        out(asciiJson(n));
      } else {
        out(escapeForTerminal(line));
      }
    } else {
      out(json ? std::string(line) : escapeForTerminal(human(line), /*keep_newlines=*/false));
    }
  };
  // The rotated files first, oldest first, then the live one; a line still being written is
  // held until its newline.
  LogReader reader(path);
  int64_t last_event = 0;
  auto queueEvents = [&](size_t ask) -> Status {
    auto evs = newEvents(*store, rec->id, last_event, ask);
    if (!evs) return std::move(evs).error();
    for (const auto& ev : *evs) {
      last_event = std::max(last_event, ev.id);
      merge.queue(eventEntry(ev));
    }
    return ok();
  };
  // The audit logs' new records, sorted by time together, then queued (appended: cheap).
  LogReader command_reader(layout.command_log), network_reader(layout.network_log);
  auto queueAudit = [&]() -> Status {
    if (!with_audit) return ok();
    std::vector<TimelineEntry> batch;
    for (auto [r, source] : {std::pair{&command_reader, "commands"}, std::pair{&network_reader, "network"}}) {
      auto n = r->poll([&, source = source](std::string_view line) {
        if (auto e = auditEntry(line, source)) batch.push_back(std::move(*e));
      });
      if (!n) return std::move(n).error();
    }
    std::stable_sort(batch.begin(), batch.end(),
                     [](const TimelineEntry& x, const TimelineEntry& y) { return *x.time_ms < *y.time_ms; });
    for (auto& e : batch) merge.queue(std::move(e));
    return ok();
  };
  std::vector<std::string> fresh;  // lines of a --follow poll, held until its events are in
  for (bool first = true;; first = false) {
    // Looked at before reading, so what was written before the sandbox went is printed: its
    // row goes after its files and its last event.
    bool destroyed = timeline ? !store->get(rec->id).value_or(std::nullopt).has_value()
                              : !fs::exists(layout.dir);
    if (!timeline || first) {
      // Events first: an event recorded before a line was written is then among them.
      if (timeline) {
        if (Status s = queueEvents(kMaxEvents); !s) return printFailure(s.error());
        if (Status s = queueAudit(); !s) return printFailure(s.error());
      }
      auto n = reader.poll(print);
      if (!n) return printFailure(std::move(n).error());
    } else {
      // The new lines first, then the events: one recorded before a line we read is then
      // here too, and goes before it (a poll's lines are as many as 200 ms brought).
      fresh.clear();
      auto n = reader.poll([&](std::string_view line) { fresh.emplace_back(line); });
      if (!n) return printFailure(std::move(n).error());
      if (Status s = queueEvents(kFollowEvents); !s) return printFailure(s.error());
      if (Status s = queueAudit(); !s) return printFailure(s.error());
      for (const auto& line : fresh) print(line);
    }
    merge.flush();
    if (!a.follow || g_stop || destroyed) {
      // The init commands are done when anyone reads their log: a last line without its
      // newline is shown as it is.
      if (a.init && reader.heldBytes() > 0) print(reader.takeHeld());
      break;
    }
    std::fflush(stdout);
    ::usleep(200 * 1000);
  }
  return 0;
}

}  // namespace

Handler installLogs(CLI::App& sub, Context& ctx) {
  auto a = std::make_shared<LogsArgs>();
  sub.add_option("sandbox", a->ref, "Sandbox id, alias, or number (3 or #3)")->required();
  sub.add_flag("--network", a->network,
               "DNS, connect and HTTP proxy decisions (JSON lines with --json)");
  sub.add_flag("--commands", a->commands,
               "Every program executed in the sandbox and its exit (JSON lines with --json)");
  sub.add_flag("--supervisor", a->supervisor, "Only the events and the supervisor's log");
  sub.add_flag("--init", a->init, "Output of the profile's initCommands (JSON lines {\"line\"} with --json)");
  sub.add_flag("-f,--follow", a->follow,
               "Keep printing new entries until interrupted or the sandbox is destroyed");
  sub.footer(
      "Without a flag: the sandbox's events (created, started, stopped, paused, resumed,\n"
      "ttl-expired, idle-expired, adopted, recovered, oom-kill, destroyed…), its supervisor's log\n"
      "(start, ready, expiry and what it did, adoption and recovery, init's exit, stop/pause/resume,\n"
      "destroy, warnings), its command log and its network log, merged in time order; a log line\n"
      "without a time stays where it is in the log. With --json, one object per line:\n"
      "  {\"time\":\"2026-01-02T03:04:05.678Z\",\"source\":\"event\",\"kind\":\"oom-kill\",\"message\":\"…\"}\n"
      "  {\"time\":\"…\",\"source\":\"supervisor\",\"level\":\"info\",\"logger\":\"km.supervisor\",\"message\":\"…\"}\n"
      "  {\"time\":null,\"source\":\"supervisor\",\"message\":\"<a line without a time>\"}\n"
      "  {\"time\":\"…\",\"source\":\"commands\",\"kind\":\"exec\",\"message\":\"…\",\"record\":{…}}\n"
      "--supervisor: only the events and the supervisor's log. An OOM kill inside (the sandbox's\n"
      "memory limit) is recorded as an oom-kill event and a warning. A create that failed leaves\n"
      "its init.log and supervisor.log in $KM_HOME/failed/ID/\n"
      "(the newest 20 kept, none older than 7 days), named in its error message.\n"
      "--commands: every program executed in the sandbox, whoever started it (km exec, a script, an\n"
      "agent, root, initCommands), seen by an eBPF program on exec and exit: pid and parent pid\n"
      "inside, uid, command line, directory, then its exit status or signal and run time; records\n"
      "the kernel could not queue are counted in a gap record. See docs/audit.md.\n"
      "--network: every DNS query the sandbox's resolver answered, every connect/send the eBPF\n"
      "programs allowed, refused or redirected (enforcement ebpf|both), or that its nftables\n"
      "refused or redirected (proxy), and every request and tunnel of its HTTP proxy (proxy|both:\n"
      "method, host, port, path without query, status, bytes, duration, decision, reason; see\n"
      "docs/proxy.md); with --json its own JSON lines. --init: the initCommands'\n"
      "output, {\"line\":\"…\"} per line with --json.\n"
      "Secrets (AWS, GitHub, Anthropic, OpenAI, Slack and Google keys, bearer tokens, private keys,\n"
      "passwords in URLs, values of secret-looking names, the profile's secret env values) are\n"
      "written [REDACTED] in the command and network logs.\n"
      "Logs are rotated (operator config logs.maxFileSize, default 16 MiB; logs.maxFiles, default 4;\n"
      "oldest lines dropped) and read in order across the files. Text from the sandbox is shown with\n"
      "control characters escaped (\\x1b…); JSON output is ASCII. See docs/sandbox.md, docs/audit.md\n"
      "and docs/network.md.");
  return [a, &ctx] { return runLogs(*a, ctx); };
}

}  // namespace km::cli
