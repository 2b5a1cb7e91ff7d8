// km::net::proxy — a sandbox's HTTP(S) proxy on the host end of its veth: the explicit port
// (absolute-URI requests and CONNECT, for clients that honour HTTP_PROXY) and the
// transparent port (connections the sandbox's nftables or eBPF programs redirected, and any
// the sandbox dials there itself). Every request and tunnel passes the filter chain (host
// policy, https-only, ports, destination); the proxy resolves the name itself through the
// sandbox's resolver and connects to the address it got (pinned), and it requires the
// CONNECT authority, the TLS SNI and the Host header to agree. Allowed TLS is tunnelled
// untouched after the SNI check (spliced in the kernel), except to the hosts the proxy must
// read (AI providers, GitHub under a repo allowlist): their TLS is terminated with a leaf
// from the sandbox's CA and every request inside is checked and relayed to the server over a
// verified TLS connection of the proxy's own. Each request or tunnel is one audit record.
//
// Runs on its own io_context thread(s), started and stopped by its owner (the supervisor's
// DataPlane), which keeps the audit writer alive until stop() returns. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit.h"
#include "core/money.h"
#include "core/result.h"
#include "meter/meter.h"
#include "meter/request.h"
#include "net/address.h"
#include "net/host_rule.h"
#include "net/net.h"

namespace km::net::proxy {

// Where the proxy terminates TLS (interception) and with what.
struct Interception {
  std::string ca_dir;         // holds the sandbox's CA (ensureSandboxCa)
  HostPolicy hosts;           // names whose TLS is terminated; every other TLS is tunnelled
  std::string extra_ca_file;  // operator config tls.extraCAFile: servers' CAs besides the system's
};

// One metered AI call as it ended: what the provider reported (or, cut short, what was seen)
// and its price.
struct AiCall {
  meter::Provider provider = meter::Provider::kAnthropic;
  meter::Api api = meter::Api::kOther;
  std::string model;       // the price table's name for the model
  std::string request_id;  // the provider's
  meter::Usage usage;
  Micros cost = 0;
  std::string note;        // why the charge is not the provider's complete usage; "" when it is
};

// What a reservation came to: a hold, or why there is none.
struct Reservation {
  std::optional<int64_t> hold;  // held: settle or release it
  // Not held: why, one line naming the budget and `km budget add` ("" when the sizer itself
  // declined the call: its caller knows why).
  std::string refused;
};

// Where metered AI calls are charged: the sandbox's AI budget (the supervisor's, over the
// ledger). Asynchronous: each call queues its work and returns at once; `done` runs later on
// the budget's own thread (never inside the call), so a proxy thread is never blocked by a
// commit and calls made at once are written together. Thread-safe.
class AiBudget {
 public:
  // Sizes a call against what the pool has left (`available`; INT64_MAX without a cap). Runs
  // on the budget's thread, perhaps more than once for one reservation (each run replaces the
  // last): quick, no I/O, no lock the proxy holds.
  struct Size {
    std::optional<Micros> hold;  // the amount to hold; nullopt declines the call
    // Declined because what is left pays for no call of the model at all: the pool counts as
    // used up (as when spend reaches the limit), and the sandbox is suspended.
    bool used_up = false;
  };
  using Sizer = std::function<Size(Micros available)>;

  virtual ~AiBudget() = default;
  // Reads the pool and holds what `size` asks in one step, so no other call takes the money
  // between the look and the hold. Refused when the pool is used up or cannot be read.
  virtual void reserve(Sizer size, std::function<void(Reservation)> done) = 0;
  // The call ended: charge `call.cost`, recording the call, and end the hold. `done` (may be
  // null) runs once the charge is written to stable storage.
  virtual void settle(int64_t hold, AiCall call, std::function<void()> done) = 0;
  // The call failed before anything was produced: end the hold, no charge. Nothing waits.
  virtual void release(int64_t hold) = 0;
  // Returns once every `done` of the calls made before it has run (the proxy, stopping,
  // waits here before its threads' handlers go away).
  virtual void drain() = 0;
  // The sandbox runs again (resumed or started): a pool still used up is reported again at
  // its next refusal. (The proxy never calls it; the sandbox's supervisor does.)
  virtual void rearm() {}
};

// AI metering: every request inside intercepted TLS to an AI provider (api.anthropic.com,
// api.openai.com, bedrock-runtime.<region>.amazonaws.com, or an operator's endpoint below) is
// read, held to the budget (its output limit clamped to what the budget pays for) and
// charged from the usage its response reports, read on a copy of the bytes as they pass.
struct Metering {
  std::vector<std::pair<std::string, meter::Provider>> endpoints;  // operator ai.endpoints (canonical names)
  meter::PriceTable prices;
  AiBudget* budget = nullptr;  // not owned; outlives the proxy
  meter::AdmitOptions admit;
  size_t max_request_body = size_t{32} << 20;  // larger AI requests are refused (413)
  size_t max_bodies_in_flight = size_t{256} << 20;  // all metered bodies held at once (else 503)
  // ai.bedrock: the AWS shared credentials file and profile Bedrock token counts are signed
  // with (read at each count, refused when a sandbox could read it); "" = Bedrock calls are
  // held to the bound from their size. `km_home` is where such a file may live besides /root
  // and /home.
  std::string bedrock_credentials_file;
  std::string bedrock_profile = "default";
  std::string km_home;
};
// The provider `host` (canonical) belongs to under `m`: the providers' own hosts, then the
// operator's endpoints; nullopt for any other host.
std::optional<meter::Provider> aiProvider(const Metering& m, std::string_view host);

// A secret the sandbox holds only as a sentinel (sentinels.h): in intercepted requests to
// `hosts` the proxy swaps the sentinel for `value`; a request carrying it anywhere else is
// refused (and logged as an exfiltration attempt).
struct MaskedSecret {
  std::string name;
  std::string sentinel;
  std::string value;
  std::vector<std::string> hosts;  // canonical names
};

// spec.sourceAccess.github as the proxy enforces it on GitHub's hosts (intercepted): the
// repositories a request may name, the refs a push may update, and the operator's credentials
// the proxy adds to requests for allowed repositories (the sandbox never holds a token).
struct SourceAccess {
  std::vector<std::string> allowed_repos;
  std::vector<std::string> allowed_refs;
  bool allow_ref_deletion = false;
  // A GitHub App (app_id > 0): installation tokens minted from api_url, per owner.
  std::string api_url = "https://api.github.com";
  int64_t app_id = 0;
  std::string private_key_pem;
  std::vector<std::pair<std::string, int64_t>> installations;  // owner (lowercase) → id
  // Else a static token: read from token_file (again after GitHub refuses it).
  std::string token_file;
  std::string km_home;  // where token_file may live besides /root and /home
};

// Outbound actions counted by spec.limits (github_pr, github_comment, github_review): the
// supervisor's, over the fleet store. Asynchronous like AiBudget: `done` runs later on the
// gate's own thread. Thread-safe.
class ActionGate {
 public:
  struct Verdict {
    bool allowed = true;
    std::string note;  // for the log and the refusal: the limit passed, the freeze ("" when fine)
  };
  virtual ~ActionGate() = default;
  // One `action` ("github_pr", …) about to go out: judged and, when it goes, counted.
  virtual void take(std::string action, std::function<void(Verdict)> done) = 0;
};

struct Options {
  IpAddress listen;  // the host end of the sandbox's veth
  uint16_t explicit_port = kProxyPort;
  uint16_t transparent_port = kTransparentProxyPort;
  HostPolicy policy;
  bool https_only = false;                 // spec.network.httpsOnly
  std::vector<uint16_t> connect_ports{443, 80};
  Endpoint resolver;                       // the sandbox's resolver: names are resolved there
  // Where a transparent connection from `client` (its address and port as the proxy sees
  // them) was going; nullopt when unknown (the sandbox dialled the port itself). May be null.
  std::function<std::optional<Endpoint>(const Endpoint& client)> original_destination;
  int threads = 1;
  size_t max_connections = 512;            // client connections at once; more are closed
  std::chrono::seconds header_timeout{60};    // a client's next request head (keep-alive idle)
  std::chrono::seconds connect_timeout{10};   // to a server
  std::chrono::seconds idle_timeout{600};     // a body or tunnel with no byte either way
  std::optional<Interception> intercept;      // none: every TLS connection is tunnelled
  std::optional<Metering> metering;           // none: AI calls are not metered
  std::vector<MaskedSecret> secrets;          // sentinels swapped on their hosts, refused elsewhere
  std::optional<SourceAccess> source;         // none: GitHub's requests are not filtered
  ActionGate* actions = nullptr;              // not owned; outlives the proxy. Null: actions not counted
};

struct Stats {
  uint64_t connections = 0;  // accepted, both ports
  uint64_t active = 0;
  uint64_t requests = 0;     // requests and tunnels judged
  uint64_t denied = 0;
  uint64_t over_limit = 0;   // connections closed at max_connections
};

// The sandbox's CA: two files in a directory of its own (0700) in the sandbox's directory,
// which only the host can read. The certificate goes into the sandbox's trust store; the key
// never leaves the host.
inline constexpr std::string_view kCaCertFile = "ca.pem";
inline constexpr std::string_view kCaKeyFile = "ca.key";  // 0600
inline std::string sandboxCaDir(const std::string& sandbox_dir) { return sandbox_dir + "/ca"; }
struct SandboxCa {
  std::string cert_pem;
  std::string key_pem;
};
// A sandbox CA is EC P-256, self-signed, CN "km sandbox CA <random tag>" (the tag keeps every
// CA's subject apart, a clone's inherited one included).
// Makes `dir` (sandboxCaDir) hold a CA when it has none: a spare from `pool_dir` renamed to
// `dir` when the pool holds one, else one made now. Nothing is read back (km create does not
// need it).
[[nodiscard]] Status provideSandboxCa(const std::string& dir, const std::string& pool_dir);
// The CA in `dir` (checked for PEM blocks only; the proxy parses it on first use), made there
// first when it has none.
[[nodiscard]] Result<SandboxCa> ensureSandboxCa(const std::string& dir);
// Spare CAs made ahead of need: OpenSSL's first use in a process costs milliseconds that a
// create should not wait for, and taking a spare is one rename. Each spare is a directory of
// the two files in `pool_dir` ($KM_HOME/ca-pool), which is 0700 like the sandboxes' own.
inline constexpr size_t kCaPoolTarget = 2;
inline std::string caPoolDir(const std::string& km_home) { return km_home + "/ca-pool"; }
// Makes spares until `pool_dir` (made 0700 when missing; refused unless private to this
// user) holds `target`, and removes what fills that died midway left. Fills running at once
// may overshoot a little.
[[nodiscard]] Status fillCaPool(const std::string& pool_dir, size_t target = kCaPoolTarget);
// How many spares `pool_dir` holds (0 when it is missing).
size_t caPoolSize(const std::string& pool_dir);
// Whether a fillCaPool is running on `pool_dir` now (it holds the pool's lock).
bool caPoolFilling(const std::string& pool_dir);

class Proxy {
 public:
  // Nothing runs before start(). `audit` must outlive stop().
  Proxy(Options options, audit::Writer& audit);
  ~Proxy();  // stop()
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Binds both listeners and starts the threads; the bind's error naming the address and
  // port. Then nothing runs.
  [[nodiscard]] Status start();
  // Closes the listeners and every connection, joins the threads, flushes the audit
  // records. Idempotent.
  void stop();
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace km::net::proxy
