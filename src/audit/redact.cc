#include "audit/redact.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/check.h"
#include "doc/pcre2_handles.h"

namespace km::audit {
namespace {

using doc::Pcre2Code;
using doc::Pcre2MatchContext;
using doc::Pcre2MatchData;

// Far above what a pattern needs on the longest text an audit record carries (a few KiB of
// argv), far below a noticeable pause for a crafted one.
constexpr uint32_t kMatchLimit = 1'000'000;
constexpr uint32_t kDepthLimit = 10'000;
// Replacements per pattern per text: a bound on the loop whatever the text is.
constexpr size_t kMaxReplacements = 4096;

// The words that make a name secret-looking, as they appear in assignments, JSON keys and
// flags. Not "pwd" (the shell's PWD), not "auth" (author), not "key" alone (keyboard, keys
// of maps); "tokens" never matches because the word must end the name (max_tokens).
#define KM_SECRET_WORDS \
  "(?:password|passwd|passphrase|secret|token|api[_\\-]?key|access[_\\-]?key|private[_\\-]?key|" \
  "secret[_\\-]?key|credentials?)"

struct Rule {
  const char* name;     // for the reader of this table
  const char* pattern;
  // Which groups hold the secret: the first of them that matched is replaced; none listed
  // (or none matched) replaces the whole match.
  std::array<int, 3> groups{0, 0, 0};
};

// Specific formats first: each leaves "[REDACTED]", which no later rule matches again.
const Rule kRules[] = {
    {"private key block",
     R"re(-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z))re"},
    {"password in a URL", R"re(\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s/?#@:]{0,256}:([^\s/?#@]{1,256})@)re", {1}},
    // Token shapes are found inside longer words too ("x_ghp_…_old", a file named after one):
    // only a letter or digit right before the prefix (part of another word) stops them.
    {"AWS access key id", R"re((?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{16}(?![A-Z0-9]))re"},
    {"GitHub token", R"re(gh[pousr]_[A-Za-z0-9]{36,251})re"},
    {"GitHub fine-grained token", R"re(github_pat_[A-Za-z0-9_]{22,255})re"},
    {"Anthropic or OpenAI key", R"re((?<![A-Za-z0-9])sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,})re"},
    {"Stripe key", R"re((?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,})re"},
    {"npm, GitLab or Hugging Face token",
     R"re((?<![A-Za-z0-9])(?:npm_[A-Za-z0-9]{36}|glpat-[A-Za-z0-9_\-]{20,}|hf_[A-Za-z0-9]{30,}))re"},
    {"Slack token", R"re((?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9\-]{10,})re"},
    {"Google API key", R"re(\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-]))re"},
    {"JSON web token", R"re(\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*)re"},
    // A bearer token has a digit, or is long: "Bearer tokens" in prose is neither.
    {"bearer token",
     R"re((?i)\bbearer\s+((?=[A-Za-z0-9\-._~+/]*[0-9])[A-Za-z0-9\-._~+/]{8,}=*|[A-Za-z0-9\-._~+/]{20,}=*))re", {1}},
    {"basic credentials", R"re((?i)\bbasic\s+((?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}))re", {1}},
    // GitHub's own scheme: "Authorization: token …".
    {"token authorization", R"re((?i)\bauthorization["']?\s*[:=]\s*["']?token\s+([A-Za-z0-9_\-.]{8,}))re", {1}},
    // curl -u user:password, --user user:password, --user=user:password.
    {"user and password flag", R"re((?:^|\s)(?:-u|--user|--proxy-user)(?:\s+|=)[^\s:]+:(\S+))re", {1}},
    // NAME=value, NAME: value, "name": "value" where the name ends in a secret word. A value
    // that is a reference ($VAR) or already redacted ([…) is left.
    {"secret assignment",
     R"re((?i)(?<![A-Za-z0-9])[A-Za-z0-9_.\-]{0,64}?)re" KM_SECRET_WORDS
     R"re(["']?[ \t]*[=:][ \t]*(?:"([^"\n]+)"|'([^'\n]+)'|((?![$\[])[^\s"',;&]+)))re",
     {1, 2, 3}},
    // --token VALUE, --api-key VALUE (the = form is an assignment above).
    {"secret flag",
     R"re((?i)(?<![A-Za-z0-9_])--?[A-Za-z0-9_\-]{0,64}?)re" KM_SECRET_WORDS R"re([ \t]+((?![$\-\[])[^\s"']+))re",
     {1}},
};

struct Compiled {
  std::vector<Pcre2Code> codes;  // kRules' order
  Pcre2MatchContext context;
};

const Compiled& compiled() {
  static const Compiled c = [] {
    Compiled out;
    for (const Rule& rule : kRules) {
      int err = 0;
      PCRE2_SIZE offset = 0;
      pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rule.pattern), PCRE2_ZERO_TERMINATED,
                                       PCRE2_NEVER_BACKSLASH_C, &err, &offset, nullptr);
      if (code == nullptr) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        KM_CHECK(false) << "redaction pattern '" << rule.name << "' does not compile at " << offset << ": "
                        << reinterpret_cast<const char*>(msg);
      }
      // JIT where the library has it; the interpreter (same results) where not.
      (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
      out.codes.emplace_back(code);
    }
    out.context.reset(pcre2_match_context_create(nullptr));
    KM_CHECK(out.context != nullptr) << "out of memory";
    pcre2_set_match_limit(out.context.get(), kMatchLimit);
    pcre2_set_depth_limit(out.context.get(), kDepthLimit);
    return out;
  }();
  return c;
}

pcre2_match_data* threadMatchData() {
  thread_local Pcre2MatchData md(pcre2_match_data_create(8, nullptr));
  KM_CHECK(md != nullptr) << "out of memory";
  return md.get();
}

size_t applyRule(const Rule& rule, const pcre2_code* code, pcre2_match_context* ctx, std::string& text) {
  pcre2_match_data* md = threadMatchData();
  size_t replaced = 0;
  size_t offset = 0;
  while (offset <= text.size() && replaced < kMaxReplacements) {
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), offset, 0, md, ctx);
    if (rc < 0) break;  // no match, or over the work limit: the rest stays for the other rules
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0], end = ov[1];
    for (int g : rule.groups) {
      if (g > 0 && g < rc && ov[2 * g] != PCRE2_UNSET) {
        start = ov[2 * g];
        end = ov[2 * g + 1];
        break;
      }
    }
    size_t match_end = ov[1];
    // Nothing to hide (no rule matches empty; kept safe anyway), or hidden already.
    if (end <= start || std::string_view(text).substr(start, end - start) == kRedacted) {
      offset = std::max(match_end, offset + 1);
      continue;
    }
    text.replace(start, end - start, kRedacted);
    ++replaced;
    // Past the match as it reads now: the replacement changed its length.
    offset = match_end - (end - start) + kRedacted.size();
  }
  return replaced;
}

std::string upperWord(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '-' || c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool secretLookingName(std::string_view name) {
  std::string n = upperWord(name);
  static constexpr std::string_view kEndings[] = {
      "TOKEN",       "SECRET",     "PASSWORD",    "PASSWD",     "PASSPHRASE", "API_KEY",    "APIKEY",
      "ACCESS_KEY",  "SECRET_KEY", "PRIVATE_KEY", "CREDENTIAL", "CREDENTIALS", "SECRET_ACCESS_KEY"};
  for (std::string_view e : kEndings) {
    if (n.size() >= e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0) {
      // The whole name, or the word after a separator: "MYTOKEN" is not a word ending.
      size_t at = n.size() - e.size();
      if (at == 0 || n[at - 1] == '_') return true;
    }
  }
  return false;
}

Redactor::Redactor(std::vector<std::string> literals) {
  for (auto& l : literals) {
    if (l.size() >= kMinLiteralSecret) literals_.push_back(std::move(l));
  }
  std::sort(literals_.begin(), literals_.end(),
            [](const std::string& a, const std::string& b) { return a.size() != b.size() ? a.size() > b.size() : a < b; });
  literals_.erase(std::unique(literals_.begin(), literals_.end()), literals_.end());
  (void)compiled();  // compile now, not on the first record
}

Redactor::~Redactor() = default;

size_t Redactor::redact(std::string& text) const {
  size_t replaced = 0;
  // Exact values first: a literal may contain characters a pattern would stop at.
  for (const auto& literal : literals_) {
    for (size_t at = text.find(literal); at != std::string::npos && replaced < kMaxReplacements;
         at = text.find(literal, at + kRedacted.size())) {
      text.replace(at, literal.size(), kRedacted);
      ++replaced;
    }
  }
  const Compiled& c = compiled();
  for (size_t i = 0; i < c.codes.size(); ++i) replaced += applyRule(kRules[i], c.codes[i].get(), c.context.get(), text);
  return replaced;
}

size_t Redactor::redactArgv(std::vector<std::string>& argv) const {
  size_t replaced = 0;
  for (size_t i = 0; i < argv.size(); ++i) {
    // "--token" "VALUE", "-p" is too short to tell; a bare secret name ("aws configure set
    // aws_secret_access_key VALUE") too.
    std::string_view a = argv[i];
    std::string_view name = a.substr(a.find_first_not_of('-') == std::string_view::npos ? a.size()
                                                                                         : a.find_first_not_of('-'));
    // curl -u USER:PASSWORD (and --user, --proxy-user): the password after the first colon.
    if ((a == "-u" || a == "--user" || a == "--proxy-user") && i + 1 < argv.size()) {
      std::string& next = argv[i + 1];
      size_t colon = next.find(':');
      if (colon != std::string::npos && colon + 1 < next.size() && next.substr(colon + 1) != kRedacted) {
        next = next.substr(0, colon + 1) + std::string(kRedacted);
        ++replaced;
      }
      ++i;
      continue;
    }
    bool names_secret = !name.empty() && name.find('=') == std::string_view::npos && secretLookingName(name) &&
                        (a.size() > name.size() || name.find_first_of("_-.") != std::string_view::npos);
    if (names_secret && i + 1 < argv.size() && !argv[i + 1].empty() && argv[i + 1][0] != '-' &&
        argv[i + 1][0] != '$' && argv[i + 1] != kRedacted) {
      argv[i + 1] = std::string(kRedacted);
      ++replaced;
      ++i;
      continue;
    }
    replaced += redact(argv[i]);
  }
  return replaced;
}

std::string Redactor::redacted(std::string_view text) const {
  std::string out(text);
  redact(out);
  return out;
}

}  // namespace km::audit
