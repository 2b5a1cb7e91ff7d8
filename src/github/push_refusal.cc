// The receive-pack result km sends for a push it refuses, shaped so that git prints the reason
// (see github.h for what was tried against a real git and what each shape shows).
#include "core/strings.h"
#include "github/github.h"

namespace km::github {
namespace {

// One line fit for a report-status or side-band line: control bytes (LF included) to spaces.
std::string oneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

// `data` on side-band `band`, cut into pkt-lines of at most `max` bytes.
void appendBand(std::string& out, char band, std::string_view data, size_t max) {
  size_t room = max - 5;  // header and band byte
  while (!data.empty()) {
    std::string_view part = data.substr(0, room);
    out += pktLine(std::string(1, band) + std::string(part));
    data.remove_prefix(part.size());
  }
}

}  // namespace

bool wantsReportStatus(std::string_view capabilities) {
  return hasCapability(capabilities, "report-status") || hasCapability(capabilities, "report-status-v2");
}

std::string refusedPushResult(std::string_view capabilities, std::string_view message,
                              std::span<const RefRefusal> refs) {
  // A pkt-line's payload is at most 65516 bytes; keep each report line well inside it.
  constexpr size_t kMaxLine = 4096;
  std::string report;
  if (wantsReportStatus(capabilities)) {
    if (refs.empty()) {
      std::string_view first = message.substr(0, message.find('\n'));
      report += pktLine("unpack " + oneLine(first.substr(0, kMaxLine)) + "\n");
    } else {
      report += pktLine("unpack ok\n");
      for (const auto& ref : refs) {
        report += pktLine("ng " + oneLine(ref.refname.substr(0, kMaxLine)) + " " +
                          oneLine(std::string_view(ref.reason).substr(0, kMaxLine)) + "\n");
      }
    }
    report += "0000";
  }
  size_t band_max = hasCapability(capabilities, "side-band-64k") ? ReceivePackCommands::kMaxPktLine
                    : hasCapability(capabilities, "side-band")   ? 1000
                                                                 : 0;
  if (band_max == 0) return report;
  std::string out;
  std::string_view rest = message;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    appendBand(out, '\2', oneLine(line) + "\n", band_max);
    if (eol == std::string_view::npos) break;
    rest.remove_prefix(eol + 1);
  }
  appendBand(out, '\1', report, band_max);
  out += "0000";
  return out;
}

}  // namespace km::github
