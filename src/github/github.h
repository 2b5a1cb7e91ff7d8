// km::github — what a request to GitHub touches, and whether a profile's
// spec.sourceAccess.github allows it: the repository a URL names, the refs a push updates (read
// from the receive-pack body's pkt-lines), the quota-counted action a REST call is, and what a
// GraphQL body can see. Pure: no I/O, no threads, no globals; every type is a value, and the
// allowlists are immutable once built, so they may be shared between threads.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace km::github {

// ---- Which repository a request is for ---------------------------------------------------

// github.com, api.github.com, raw.githubusercontent.com, codeload.github.com (archive
// downloads) and codeload.githubusercontent.com. `host`: canonical lowercase, no port.
bool isGithubHost(std::string_view host);

// The repository a request to `host` names, "owner/repo" lowercased, or "" when it names none
// (not a GitHub host; "/", "/o", api.github.com's "/user"). `target`: the request-target; the
// query is ignored; the path is percent-decoded before it is split ("/o%2Fr/x" names o/r).
//   github.com, raw.githubusercontent.com, codeload.*: the first two segments, one ".git"
//     stripped from the second ("/o/r.git/info/refs" names o/r);
//   api.github.com: "/repos/{owner}/{repo}" and below; nothing else.
// InvalidArgument (refuse: GitHub could read it otherwise, or km cannot check it) for a target
// not starting with '/', a bad escape, a decoded path with "//", '\', a control byte or a "."
// or ".." segment; an owner or repo that is empty, holds "..", a byte outside [A-Za-z0-9._-],
// or still ends in ".git" once one is stripped; api.github.com's "/repositories/{id}/…". A
// later segment may hold ".." as compare ranges do ("/compare/main...topic").
[[nodiscard]] Result<std::string> repoOf(std::string_view host, std::string_view target);

// spec.sourceAccess.github.allowedRepos, built once.
class RepoAllowlist {
 public:
  // Entries: "*", "owner/repo", "owner/*"; any case; a leading "github.com/" and a trailing
  // ".git" dropped. InvalidArgument naming the entry and the expected form for anything else.
  // An empty list allows nothing.
  [[nodiscard]] static Result<RepoAllowlist> parse(const std::vector<std::string>& entries);
  // `repo` as repoOf returns it (any case). False for anything not a well-formed owner/repo.
  bool allows(std::string_view repo) const;
  bool allowsAll() const { return all_; }

 private:
  bool all_ = false;
  std::vector<std::string> exact_;   // "owner/repo"
  std::vector<std::string> owners_;  // "owner" of "owner/*"
};

// ---- Which refs a push may update --------------------------------------------------------

// A bash-style glob: '*' matches any run of bytes including '/', '?' one byte, "[...]" one
// byte of a set ("[!...]" or "[^...]" negates; ranges "a-z"; "[:alpha:]"-style classes; ']'
// first is literal), '\' makes the next byte literal. Matching is iterative, O(pattern×name).
class RefGlob {
 public:
  // InvalidArgument for an unterminated '[', an unknown "[:class:]", or a trailing '\'.
  [[nodiscard]] static Result<RefGlob> compile(std::string_view pattern);
  bool matches(std::string_view name) const;

 private:
  struct Token {
    enum class Kind : uint8_t { kByte, kAnyByte, kSet, kStar } kind = Kind::kByte;
    unsigned char byte = 0;     // kByte
    std::bitset<256> set;       // kSet: the bytes it matches, negation applied
  };
  std::vector<Token> tokens_;
};

// spec.sourceAccess.github.allowedRefs, built once. Upstream globs branch names in a
// client-side pre-push hook, skipped when the list is empty or has "*"; km checks every ref a
// push updates, in the proxy, and opens only branches by default:
//   * an entry not starting with "refs/" ("main", "feature/*", "*") matches "refs/heads/<entry>";
//   * an entry starting with "refs/" is a glob over the full ref name ("refs/tags/v*");
//   * an empty list allows every branch, like "*";
//   * tags, notes and every other namespace are refused unless an entry names them.
class RefAllowlist {
 public:
  // InvalidArgument naming the entry for an empty one, one with whitespace or control bytes,
  // or a glob compile refuses.
  [[nodiscard]] static Result<RefAllowlist> parse(const std::vector<std::string>& entries);
  // `full_refname`: as a push names it ("refs/heads/main"). Case-sensitive, like git.
  bool allows(std::string_view full_refname) const;

 private:
  std::vector<RefGlob> globs_;
};

// Whether git would accept `refname` as a ref a push updates: starts with "refs/"; no "..",
// "//", "@{", control byte, space, or any of ~^:?*[\; no component starting with '.' or ending
// in ".lock"; does not end in '/' or '.'.
bool isValidRefName(std::string_view refname);

// ---- The command section of a push (POST /o/r/git-receive-pack) ------------------------

struct RefUpdate {
  std::string old_oid;  // lowercase hex, 40 (SHA-1) or 64 (SHA-256) digits
  std::string new_oid;
  std::string refname;
  bool creates() const { return old_oid.find_first_not_of('0') == std::string::npos; }
  bool deletes() const { return new_oid.find_first_not_of('0') == std::string::npos; }
};

// Reads the start of a receive-pack request body: optional "shallow <oid>" pkt-lines, then
// "old new refname\0capabilities" and "old new refname" pkt-lines (LF optional), up to the
// flush-pkt. What follows (push options, the pack) is the caller's to forward. Chunks may be
// cut anywhere; the result is the same. No command ("0000" alone: git's probe before a large
// push) is kDone with no updates. Refused, with error() saying why to a git user ("km: push
// refused: …"): a signed push (push-cert); a length not 4 hex digits, 0001-0004 (git's
// receive-pack would end the commands at an empty 0004), or over 65520; a malformed command
// or oid; oids of mixed lengths or not the "object-format="; a NUL after the first command;
// an invalid ref name; a shallow line after a command; over 10000 commands; a command
// section over 4 MiB.
class ReceivePackCommands {
 public:
  enum class State { kNeedMore, kDone, kRefused };
  static constexpr size_t kMaxPktLine = 65520;
  static constexpr size_t kMaxCommands = 10000;
  static constexpr size_t kMaxSectionBytes = 4u << 20;

  // Consumes from `chunk` what the command section still needs (nothing once done or refused).
  State feed(std::string_view chunk);
  State state() const { return state_; }

  // Valid once kDone: bytes of the command section, flush-pkt included (the body's offset
  // where the rest begins).
  size_t consumed() const { return consumed_; }
  const std::vector<RefUpdate>& updates() const { return updates_; }
  // The first command's capabilities as sent (space-separated; git's begin with a space).
  // Known as soon as the first command (or push-cert line) has been read, even when refused.
  const std::string& capabilities() const { return capabilities_; }
  bool hasCapability(std::string_view name) const;  // "side-band-64k", or "agent" of "agent=…"
  const std::string& error() const { return error_; }

 private:
  State refuse(std::string why);
  State takeLine(std::string_view payload);
  State takeCommand(std::string_view payload);

  State state_ = State::kNeedMore;
  std::string pending_;  // the pkt-line being read, header included
  size_t want_ = 0;      // its length once the header is read; 0 while reading the header
  size_t consumed_ = 0;
  size_t oid_hex_ = 0;   // 40 or 64 once the first oid is seen
  std::vector<RefUpdate> updates_;
  std::string capabilities_;
  std::string error_;
};

// Whether the space-separated `capabilities` has `name`, alone or as "name=value".
bool hasCapability(std::string_view capabilities, std::string_view name);

// `payload` framed as one pkt-line: 4 hex digits (its length plus 4), then the payload.
// The caller keeps payloads at most kMaxPktLine - 4 bytes.
std::string pktLine(std::string_view payload);

// How to refuse a push so that `git push` shows why (checked with git 2.39 over smart HTTP):
//   * A refused repository: answer GET /o/r.git/info/refs?service=git-receive-pack with 403
//     and Content-Type text/plain; git prints the body as "remote: <line>" and fails. Only the
//     ref discovery shows bodies (remote-curl.c's show_http_message).
//   * A refused ref (or body): an HTTP error on POST /git-receive-pack shows nothing but
//     "error: RPC failed; HTTP 403 curl 22 …" (and "Everything up-to-date"!); an "ERR" pkt-line
//     under side-band reads as "protocol error: bad band #69". So answer 200 with
//     Content-Type application/x-git-receive-pack-result and the body below: git prints
//     "remote: <message>" and " ! [remote rejected] main -> main (<reason>)", and fails.
// Read the request body to its end (discarding the pack) before answering: git tested against
// a server that did. When the client asked for no report-status (git always does), the body
// carries only the message; answer 403 instead so the push at least fails.
struct RefRefusal {
  std::string refname;  // as the push named it
  std::string reason;   // one line
};
// The receive-pack result: `message` (lines) on side-band channel 2 when `capabilities`
// has side-band(-64k); then a report-status, "unpack ok" and "ng <refname> <reason>" for each
// of `refs`, or, with no refs (the body could not be read), "unpack <first line of message>",
// which git shows as "error: remote unpack failed: …"; on side-band channel 1 when asked.
// Control bytes in the message and reasons become spaces.
std::string refusedPushResult(std::string_view capabilities, std::string_view message,
                              std::span<const RefRefusal> refs);
// report-status or report-status-v2 (the lines above are valid in both).
bool wantsReportStatus(std::string_view capabilities);

// ---- Refs changed outside a push ------------------------------------------------------------

// Which git endpoint a github.com request is: a path past owner/repo that mentions
// "receive-pack" in any segment, any case, is a push (kReceivePack), whatever slashes follow;
// "upload-pack" a fetch; kOther anything else on a repository; kNone no repository path.
enum class GitEndpoint { kNone, kUploadPack, kReceivePack, kOther };
GitEndpoint gitEndpoint(std::string_view host, std::string_view target);

// What a REST call on api.github.com does to refs (GET/HEAD/OPTIONS never do):
//   kRef        the path names the ref (PATCH/DELETE/POST /repos/o/r/git/refs/<ref>): `ref`, `deletes`;
//   kRefInBody  a JSON body field names it: POST …/git/refs ("ref", a full ref), PUT/DELETE
//               …/contents/… ("branch"), POST …/merges ("base"), POST …/merge-upstream
//               ("branch"), POST …/releases ("tag_name"); `body_prefix` completes the name
//               ("refs/heads/", "refs/tags/");
//   kRefused    km cannot judge it, so it is refused (`why`): merging a pull request, updating
//               its branch, branch protection and renames, deleting or changing the repository,
//               rulesets, transfers.
struct RefWrite {
  enum class Kind { kNone, kRef, kRefInBody, kRefused } kind = Kind::kNone;
  std::string ref;
  bool deletes = false;
  std::string body_key, body_prefix;
  std::string why;
};
RefWrite refWriteOf(std::string_view method, std::string_view host, std::string_view target);

// GraphQL mutation fields that write refs or repository settings (createRef, updateRef(s),
// deleteRef, mergeBranch, mergePullRequest, createCommitOnBranch, auto-merge, protection rules,
// updateRepository, …): refused, as km cannot judge their refs from the body.
bool mutationWritesRefs(std::string_view field);

// ---- Actions counted by spec.limits --------------------------------------------------------

enum class Action { kNone, kGithubPr, kGithubComment, kGithubReview };

// "github_pr", "github_comment", "github_review" (spec.limits keys); "" for kNone.
std::string_view actionName(Action action);

// The counted action a REST call is: POST to api.github.com (method compared exactly)
//   /repos/o/r/pulls                         → kGithubPr
//   /repos/o/r/pulls/N/reviews               → kGithubReview
//   /repos/o/r/issues/N/comments             → kGithubComment
//   /repos/o/r/pulls/N/comments              → kGithubComment (review comments)
//   /repos/o/r/pulls/N/comments/ID/replies   → kGithubComment
//   /repos/o/r/commits/SHA/comments          → kGithubComment
// Path segments compare case-insensitively after percent-decoding; N and ID are any non-empty
// segment (a 404 counted beats a call missed); one trailing '/' and the query are ignored.
// GraphQL mutations: classifyMutation.
Action classifyAction(std::string_view method, std::string_view host, std::string_view target);

// The counted action a top-level GraphQL mutation field is: createPullRequest → kGithubPr;
// addComment, addPullRequestReviewComment, addPullRequestReviewThread,
// addPullRequestReviewThreadReply, addDiscussionComment → kGithubComment; addPullRequestReview → kGithubReview
// (submitPullRequestReview only submits that review, as REST's .../reviews/ID/events).
Action classifyMutation(std::string_view field);

// ---- GraphQL (POST api.github.com/graphql) -----------------------------------------------

struct GraphqlRequest {
  bool has_mutation = false;     // an operation is a mutation (or a subscription)
  // Top-level fields of the mutations, aliases resolved, in order. Incomplete (false below)
  // when a mutation selects through a fragment spread or inline fragment.
  std::vector<std::string> mutation_fields;
  bool mutation_fields_complete = true;
  // Repositories named by repository(owner:, name:) with literal strings or variables, by
  // repository(name:) selected directly (inline fragments aside) in a repositoryOwner,
  // organization or user(login:) field, and by variables
  // (an object's "owner" with "name"/"repo"/"repository"; "o/r" strings under keys ending in
  // repo, repository or nameWithOwner). Lowercase, sorted, unique.
  std::vector<std::string> repos;
  // Logins of repositoryOwner/organization/user(login:) fields: their repositories(...) lists
  // are visible. Lowercase, sorted, unique.
  std::vector<std::string> owners;
  // False when a repository's owner or name, or an owner field's login, is not a literal
  // string or a string variable (viewer { repository(name:) } included).
  bool repos_complete = true;
};
// Not seen, so `repos` is never "only these repositories": node ids (node, nodes, every
// mutation input's repositoryId/subjectId), search(query: "repo:…"), resource(url:), viewer's
// and other lists. A repository(name:) in a fragment spread under an owner field is seen as
// unresolved (repos_complete false). InvalidArgument for a body over 1 MiB, invalid JSON, not
// an object, no "query" string, variables not an object, or a query that is not an executable
// document (unbalanced braces, unterminated string, a type definition).
[[nodiscard]] Result<GraphqlRequest> inspectGraphql(std::string_view body);
inline constexpr size_t kMaxGraphqlBody = 1u << 20;

}  // namespace km::github
