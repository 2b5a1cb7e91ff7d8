// inspectGraphql: a GraphQL body read just far enough to say whether it writes and which
// repositories it names. The walk is iterative (a brace counter and a stack of owner scopes),
// so nesting depth costs memory linear in the query, never recursion.
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "core/strings.h"
#include "doc/json_io.h"
#include "doc/node.h"
#include "github/github.h"
#include "github/graphql_lexer.h"

namespace km::github {
namespace {

using detail::GqlLexer;
using detail::GqlToken;
using Kind = GqlToken::Kind;

// The strings an argument can be: a literal, a variable's value, or a variable's defaults.
struct Arg {
  std::vector<std::string> values;
  bool known = false;  // false: not a string we can see (enum, object, missing variable...)
};

// Every ($name: Type = "default") seen in any operation's variable definitions. Which
// operation runs is the client's choice, so all are candidates.
using Defaults = std::map<std::string, std::vector<std::string>, std::less<>>;

Defaults collectDefaults(std::string_view query) {
  Defaults defaults;
  GqlLexer lex(query);
  int braces = 0;
  while (lex.peek().kind != Kind::kEnd) {
    GqlToken t = lex.take();
    if (t.is('{')) ++braces;
    if (t.is('}')) --braces;
    if (braces != 0 || !t.is('$') || lex.peek().kind != Kind::kName) continue;
    std::string name(lex.take().text);
    if (!lex.peek().is(':')) continue;
    lex.take();
    while (lex.peek().kind == Kind::kName || lex.peek().is('[') || lex.peek().is(']') || lex.peek().is('!')) lex.take();
    if (!lex.peek().is('=')) continue;
    lex.take();
    if (lex.peek().kind == Kind::kString) defaults[name].push_back(lex.take().value);
  }
  return defaults;
}

class Walker {
 public:
  // Adds what it finds to `out` and to `repos` and `owners` (sorted into `out` at the end).
  Walker(std::string_view query, const doc::Node* variables, const Defaults& defaults, GraphqlRequest& out,
         std::set<std::string>& repos, std::set<std::string>& owners)
      : lex_(query), vars_(variables), defaults_(defaults), out_(out), repos_(repos), owners_(owners) {}

  Status document() {
    bool any = false;
    while (lex_.peek().kind != Kind::kEnd) {
      any = true;
      if (lex_.peek().is('{')) {
        KM_TRY(selectionSet(false));
      } else if (lex_.peek().isName("query") || lex_.peek().isName("mutation") || lex_.peek().isName("subscription")) {
        bool writes = !lex_.take().isName("query");
        out_.has_mutation = out_.has_mutation || writes;
        if (lex_.peek().kind == Kind::kName) lex_.take();
        if (lex_.peek().is('(')) KM_TRY(skipBalanced('(', ')'));
        KM_TRY(directives());
        KM_TRY(selectionSet(writes));
      } else if (lex_.peek().isName("fragment")) {
        lex_.take();
        if (lex_.take().kind != Kind::kName || !lex_.take().isName("on") || lex_.take().kind != Kind::kName) {
          return syntax("a fragment definition");
        }
        KM_TRY(directives());
        KM_TRY(selectionSet(false));
      } else {
        return syntax("the document (only operations and fragments may be sent)");
      }
    }
    if (!lex_.error().empty()) return invalidArgument("GraphQL query: " + lex_.error());
    if (!any) return invalidArgument("GraphQL query has no operation");
    return ok();
  }

 private:
  Error syntax(std::string_view where) {
    if (!lex_.error().empty()) return invalidArgument("GraphQL query: " + lex_.error());
    return invalidArgument("GraphQL query: unexpected " +
                           (lex_.peek().kind == Kind::kEnd ? std::string("end") : quoted(lex_.peek().text)) + " in " +
                           std::string(where));
  }

  Status skipBalanced(char open, char close) {
    int depth = 0;
    do {
      GqlToken t = lex_.take();
      if (t.kind == Kind::kEnd) return syntax("an unclosed '" + std::string(1, open) + "'");
      if (t.is(open)) ++depth;
      if (t.is(close)) --depth;
    } while (depth > 0);
    return ok();
  }

  Status directives() {
    while (lex_.peek().is('@')) {
      lex_.take();
      if (lex_.take().kind != Kind::kName) return syntax("a directive");
      if (lex_.peek().is('(')) KM_TRY(skipBalanced('(', ')'));
    }
    return ok();
  }

  Arg resolveVariable(std::string_view name) {
    Arg arg;
    if (const doc::Node* v = vars_ && vars_->isMap() ? vars_->find(name) : nullptr) {
      arg.known = v->kind() == doc::Node::Kind::kString;
      if (arg.known) arg.values.push_back(v->text());
      return arg;
    }
    auto it = defaults_.find(name);
    if (it != defaults_.end()) {
      arg.known = true;
      arg.values = it->second;
    }
    return arg;
  }

  // At '(': the arguments, each string literal or variable resolved.
  Status arguments(std::map<std::string, Arg, std::less<>>& args) {
    lex_.take();
    while (!lex_.peek().is(')')) {
      GqlToken name = lex_.take();
      if (name.kind != Kind::kName || !lex_.take().is(':')) return syntax("an argument list");
      Arg& arg = args[std::string(name.text)];
      const GqlToken& v = lex_.peek();
      if (v.kind == Kind::kString) {
        arg = Arg{{lex_.take().value}, true};
      } else if (v.is('$')) {
        lex_.take();
        if (lex_.peek().kind != Kind::kName) return syntax("an argument list");
        arg = resolveVariable(lex_.take().text);
      } else if (v.is('[')) {
        KM_TRY(skipBalanced('[', ']'));
      } else if (v.is('{')) {
        KM_TRY(skipBalanced('{', '}'));
      } else if (v.kind == Kind::kName || v.kind == Kind::kNumber) {
        lex_.take();
      } else {
        return syntax("an argument list");
      }
    }
    lex_.take();
    return ok();
  }

  void addRepos(const Arg& owner, const Arg& name) {
    if (!owner.known || !name.known || owner.values.size() * name.values.size() > 4096) {
      out_.repos_complete = false;
      return;
    }
    for (const auto& o : owner.values) {
      for (const auto& n : name.values) repos_.insert(toLower(o) + "/" + toLower(n));
    }
  }

  // At '{': one selection set and everything nested in it.
  Status selectionSet(bool mutation) {
    if (!lex_.take().is('{')) return syntax("an operation (expected '{')");
    // An owner field's login names the owner of a repository(name:) selected directly in its
    // braces (inline fragments' braces are see-through); any field between them is another
    // object, whose repositories belong to someone else.
    struct Scope {
      int depth;
      Arg login;
    };
    std::vector<Scope> scopes;
    std::vector<bool> inline_brace{false, false};  // [d]: the brace opening depth d is "... on T {"
    std::optional<Arg> pending;                    // an owner field's login, for the '{' after it
    bool pending_inline = false;
    int depth = 1;
    while (depth > 0) {
      GqlToken t = lex_.take();
      if (t.kind == Kind::kEnd) return syntax("a selection set (unbalanced braces)");
      if (t.is('{')) {
        ++depth;
        inline_brace.push_back(pending_inline);
        if (pending) scopes.push_back(Scope{depth, std::move(*pending)});
        pending.reset();
        pending_inline = false;
        continue;
      }
      pending.reset();
      pending_inline = false;
      if (t.is('}')) {
        if (!scopes.empty() && scopes.back().depth == depth) scopes.pop_back();
        inline_brace.pop_back();
        --depth;
      } else if (t.kind == Kind::kSpread) {
        if (mutation && depth == 1) out_.mutation_fields_complete = false;
        bool typed = lex_.peek().isName("on");
        if (typed) lex_.take();
        bool named = lex_.peek().kind == Kind::kName;
        if (named) lex_.take();  // the type, or the fragment's name
        KM_TRY(directives());
        pending_inline = typed || !named;
      } else if (t.kind == Kind::kName) {
        std::string_view field = t.text;
        GqlToken aliased;
        if (lex_.peek().is(':')) {
          lex_.take();
          aliased = lex_.take();
          if (aliased.kind != Kind::kName) return syntax("a field alias");
          field = aliased.text;
        }
        if (mutation && depth == 1) out_.mutation_fields.emplace_back(field);
        std::map<std::string, Arg, std::less<>> args;
        if (lex_.peek().is('(')) KM_TRY(arguments(args));
        KM_TRY(directives());
        if (field == "repository") {
          auto owner = args.find("owner");
          int object_depth = depth;
          while (object_depth > 1 && inline_brace[static_cast<size_t>(object_depth)]) --object_depth;
          bool scoped = !scopes.empty() && scopes.back().depth == object_depth;
          addRepos(owner != args.end() ? owner->second : scoped ? scopes.back().login : Arg{}, args["name"]);
        } else if (auto login = args.find("login");
                   login != args.end() && (field == "repositoryOwner" || field == "organization" || field == "user")) {
          if (!login->second.known) out_.repos_complete = false;
          for (const auto& l : login->second.values) owners_.insert(toLower(l));
          if (lex_.peek().is('{')) pending = login->second;
        }
      } else {
        return syntax("a selection set");
      }
    }
    return ok();
  }

  GqlLexer lex_;
  const doc::Node* vars_;
  const Defaults& defaults_;
  GraphqlRequest& out_;
  std::set<std::string>& repos_;
  std::set<std::string>& owners_;
};

// Repositories the variables name on their own: {"owner": o, "name"|"repo"|"repository": r},
// and "o/r" strings under keys ending in repo, repository or nameWithOwner (any case).
void scanVariables(const doc::Node& root, std::set<std::string>& repos) {
  std::vector<const doc::Node*> stack{&root};
  while (!stack.empty()) {
    const doc::Node* n = stack.back();
    stack.pop_back();
    for (const auto& item : n->items()) stack.push_back(&item);
    if (!n->isMap()) continue;
    const doc::Node* owner = n->find("owner");
    for (const auto& e : n->entries()) {
      stack.push_back(&e.value);
      if (e.value.kind() != doc::Node::Kind::kString) continue;
      const std::string& v = e.value.text();
      std::string key = toLower(e.key);
      bool has_slash = v.find('/') != std::string::npos;
      if ((key == "name" || key == "repo" || key == "repository") && owner &&
          owner->kind() == doc::Node::Kind::kString && !has_slash) {
        repos.insert(toLower(owner->text()) + "/" + toLower(v));
      }
      if ((endsWith(key, "repo") || endsWith(key, "repository") || endsWith(key, "namewithowner")) && has_slash) {
        repos.insert(toLower(v));
      }
    }
  }
}

}  // namespace

Result<GraphqlRequest> inspectGraphql(std::string_view body) {
  if (body.size() > kMaxGraphqlBody) return invalidArgument("GraphQL request body is over 1 MiB");
  doc::Node root;
  std::string error;
  if (!doc::parseJson(body, root, &error)) return invalidArgument("GraphQL request body is not JSON: " + error);
  if (!root.isMap()) return invalidArgument("GraphQL request body is not a JSON object (batched requests are refused)");
  const doc::Node* query = root.find("query");
  if (!query || query->kind() != doc::Node::Kind::kString) {
    return invalidArgument("GraphQL request body has no \"query\" string (persisted queries are refused)");
  }
  const doc::Node* variables = root.find("variables");
  if (variables && !variables->isMap() && !variables->isNull()) {
    return invalidArgument("GraphQL \"variables\" is not a JSON object");
  }
  GraphqlRequest out;
  Defaults defaults = collectDefaults(query->text());
  std::set<std::string> repos, owners;
  KM_TRY(Walker(query->text(), variables, defaults, out, repos, owners).document());
  if (variables) scanVariables(*variables, repos);
  out.repos.assign(repos.begin(), repos.end());
  out.owners.assign(owners.begin(), owners.end());
  return out;
}

}  // namespace km::github
