// inspectGraphql: whether a GraphQL body writes, and which repositories it names.
#include <gtest/gtest.h>

#include "github/github.h"

namespace km::github {
namespace {

using Strings = std::vector<std::string>;

// A JSON body whose query is `query` (escaped here) and whose variables are `variables` (JSON).
std::string body(std::string_view query, std::string_view variables = "") {
  std::string q;
  for (char c : query) {
    if (c == '"' || c == '\\') q.push_back('\\');
    if (c == '\n') {
      q += "\\n";
      continue;
    }
    q.push_back(c);
  }
  std::string out = "{\"query\":\"" + q + "\"";
  if (!variables.empty()) out += ",\"variables\":" + std::string(variables);
  return out + "}";
}

GraphqlRequest inspect(std::string_view query, std::string_view variables = "") {
  auto r = inspectGraphql(body(query, variables));
  EXPECT_TRUE(r) << query << ": " << r.error().message();
  return r ? *r : GraphqlRequest{};
}

std::string refusal(std::string_view raw_body) {
  auto r = inspectGraphql(raw_body);
  EXPECT_FALSE(r) << raw_body;
  return r ? "" : r.error().message();
}

TEST(InspectGraphql, QueriesAreNotMutations) {
  auto q = inspect("{ viewer { login } }");
  EXPECT_FALSE(q.has_mutation);
  EXPECT_TRUE(q.repos.empty());
  EXPECT_TRUE(q.repos_complete);
  EXPECT_FALSE(inspect("query { viewer { login } }").has_mutation);
  EXPECT_FALSE(inspect("query Named($x: Int = 3) @cached { viewer { login } }").has_mutation);
}

TEST(InspectGraphql, FindsMutationsAndTheirTopLevelFields) {
  auto m = inspect(
      "mutation M($input: CreatePullRequestInput!) { createPullRequest(input: $input) { pullRequest { id } } "
      "second: addComment(input: {subjectId: \"X\", body: \"hi { } #\"}) { clientMutationId } }");
  EXPECT_TRUE(m.has_mutation);
  EXPECT_EQ(m.mutation_fields, (Strings{"createPullRequest", "addComment"}));
  EXPECT_TRUE(m.mutation_fields_complete);
  EXPECT_TRUE(inspect("subscription { x }").has_mutation);
}

TEST(InspectGraphql, MutationsHiddenInCommentsAndStringsAreNotMutations) {
  auto q = inspect("# mutation { createPullRequest }\n{ viewer { bio(x: \"mutation { y }\") } }");
  EXPECT_FALSE(q.has_mutation);
  auto b = inspect("query { a(x: \"\"\"\nmutation { z }\n\"\"\") }");
  EXPECT_FALSE(b.has_mutation);
}

TEST(InspectGraphql, MutationAfterAQueryIsFound) {
  auto m = inspect("query A { viewer { login } } mutation B { addPullRequestReview(input: {}) { clientMutationId } }");
  EXPECT_TRUE(m.has_mutation);
  EXPECT_EQ(m.mutation_fields, Strings{"addPullRequestReview"});
}

TEST(InspectGraphql, FragmentsInAMutationMakeItsFieldsIncomplete) {
  auto m = inspect("mutation { ...F } fragment F on Mutation { createPullRequest(input: {}) { clientMutationId } }");
  EXPECT_TRUE(m.has_mutation);
  EXPECT_FALSE(m.mutation_fields_complete);
  auto inline_fragment = inspect("mutation { ... on Mutation { addComment(input: {}) { clientMutationId } } }");
  EXPECT_FALSE(inline_fragment.mutation_fields_complete);
  // Nested fields of a mutation are not its top-level fields.
  auto nested = inspect("mutation { createPullRequest(input: {}) { pullRequest { addComment } } }");
  EXPECT_EQ(nested.mutation_fields, Strings{"createPullRequest"});
}

TEST(InspectGraphql, RepositoryWithLiteralArguments) {
  auto q = inspect("{ repository(owner: \"Octo\", name: \"Hello\") { issues(first: 5) { nodes { title } } } "
                   "other: repository(name: \"b\", owner: \"a\") { id } }");
  EXPECT_EQ(q.repos, (Strings{"a/b", "octo/hello"}));
  EXPECT_TRUE(q.repos_complete);
}

TEST(InspectGraphql, RepositoryWithVariables) {
  auto q = inspect("query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id } }",
                   R"({"owner": "acme", "name": "tools"})");
  EXPECT_EQ(q.repos, Strings{"acme/tools"});
  EXPECT_TRUE(q.repos_complete);
}

TEST(InspectGraphql, VariableDefaultsCountWhenTheVariableIsNotSent) {
  auto q = inspect("query($o: String = \"def\", $n: String = \"ault\") { repository(owner: $o, name: $n) { id } }");
  EXPECT_EQ(q.repos, Strings{"def/ault"});
  EXPECT_TRUE(q.repos_complete);
  auto sent = inspect("query($o: String = \"def\") { repository(owner: $o, name: \"r\") { id } }", R"({"o": "x"})");
  EXPECT_EQ(sent.repos, Strings{"x/r"});
}

TEST(InspectGraphql, UnresolvableArgumentsMakeTheListIncomplete) {
  EXPECT_FALSE(inspect("query($o: String!) { repository(owner: $o, name: \"r\") { id } }").repos_complete);
  EXPECT_FALSE(inspect("{ repository(owner: \"o\") { id } }").repos_complete);
  EXPECT_FALSE(inspect("{ repository(owner: \"o\", name: 42) { id } }").repos_complete);
  EXPECT_FALSE(inspect("query($o: String!) { repository(owner: $o, name: \"r\") { id } }", R"({"o": 7})")
                   .repos_complete);
  EXPECT_FALSE(inspect("{ repositoryOwner(login: SOME_ENUM) { id } }").repos_complete);
  // Without an owner argument or an enclosing owner, the repository is unknown.
  EXPECT_FALSE(inspect("{ repository(name: \"r\") { id } }").repos_complete);
}

TEST(InspectGraphql, OwnerFieldsScopeTheRepositoriesInside) {
  auto q = inspect(
      "{ repositoryOwner(login: \"Acme\") { repositories(first: 10) { nodes { name } } "
      "... on Organization { repository(name: \"Tools\") { id } } } "
      "organization(login: \"org\") { repository(name: \"x\") { id } } "
      "user(login: \"u\") { a: repository(name: \"y\") { id } } }");
  EXPECT_EQ(q.repos, (Strings{"acme/tools", "org/x", "u/y"}));
  EXPECT_EQ(q.owners, (Strings{"acme", "org", "u"}));
  EXPECT_TRUE(q.repos_complete);
  // The scope ends with its braces.
  auto after = inspect("{ user(login: \"u\") { id } repository(name: \"r\") { id } }");
  EXPECT_FALSE(after.repos_complete);
  EXPECT_TRUE(after.repos.empty());
}

TEST(InspectGraphql, OwnerScopeCoversOnlyItsDirectSelections) {
  // A member's repository "x" is the member's, not the organisation's.
  auto member = inspect("{ organization(login: \"a\") { membersWithRole(first: 5) { nodes { "
                        "repository(name: \"x\") { id } } } } }");
  EXPECT_TRUE(member.repos.empty());
  EXPECT_FALSE(member.repos_complete);
  EXPECT_EQ(member.owners, Strings{"a"});
  // Inline fragments do not change the object.
  auto nested = inspect("{ repositoryOwner(login: \"a\") { ... on User { ... @include(if: true) { "
                        "repository(name: \"x\") { id } } } } }");
  EXPECT_EQ(nested.repos, Strings{"a/x"});
  EXPECT_TRUE(nested.repos_complete);
  // viewer's repositories belong to whoever the token is.
  EXPECT_FALSE(inspect("{ viewer { repository(name: \"x\") { id } } }").repos_complete);
}

TEST(InspectGraphql, OwnerNamedFieldsWithoutLoginAreOrdinaryFields) {
  auto q = inspect("{ viewer { status { user { login } } organization(login: \"o\") { name } } "
                   "repository(owner: \"o\", name: \"r\") { owner { login } } }");
  EXPECT_TRUE(q.repos_complete);
  EXPECT_EQ(q.repos, Strings{"o/r"});
  EXPECT_EQ(q.owners, Strings{"o"});
}

TEST(InspectGraphql, RepositoryNamesInVariablesOnTheirOwn) {
  auto q = inspect("mutation($input: X!) { createIssue(input: $input) { issue { id } } }",
                   R"({"input": {"owner": "O", "repo": "R", "deep": [{"targetRepository": "a/b"}],
                       "repositoryNameWithOwner": "c/d", "headRepo": "e/f", "name": "x/y", "title": "t/u"}})");
  EXPECT_EQ(q.repos, (Strings{"a/b", "c/d", "e/f", "o/r"}));
}

TEST(InspectGraphql, NodeIdsAreNotSeen) {
  auto q = inspect("mutation($id: ID!) { createPullRequest(input: {repositoryId: $id, baseRefName: \"main\", "
                   "headRefName: \"x\", title: \"t\"}) { pullRequest { url } } }",
                   R"({"id": "R_kgDOAbc"})");
  EXPECT_TRUE(q.repos.empty());
  EXPECT_EQ(q.mutation_fields, Strings{"createPullRequest"});
}

TEST(InspectGraphql, LexerSkipsCommentsCommasBomAndEscapes) {
  auto q = inspect("\xEF\xBB\xBF# hi\n,,{ repository(owner: \"o\\u0041\", name: \"r\\\"x\") { id } # }\n}");
  EXPECT_EQ(q.repos, Strings{"oa/r\"x"});
  EXPECT_TRUE(q.repos_complete);
}

TEST(InspectGraphql, DirectivesAndArgumentsAreNotFields) {
  auto q = inspect("query($skip: Boolean!) { viewer @include(if: $skip) { login } ...F @skip(if: true) } "
                   "fragment F on Query { repository(owner: \"o\", name: \"r\") { id } }");
  EXPECT_EQ(q.repos, Strings{"o/r"});
  EXPECT_FALSE(q.has_mutation);
}

TEST(InspectGraphql, RefusesWhatItCannotRead) {
  EXPECT_NE(refusal("not json").find("not JSON"), std::string::npos);
  EXPECT_NE(refusal("[{\"query\": \"{ a }\"}]").find("batched"), std::string::npos);
  EXPECT_NE(refusal("{\"variables\": {}}").find("\"query\""), std::string::npos);
  refusal("{\"query\": 5}");
  refusal("{\"extensions\": {\"persistedQuery\": {\"sha256Hash\": \"x\"}}}");
  refusal(body("{ a }", "[1]"));
  refusal(body("{ a }", "\"{}\""));
  EXPECT_NE(refusal(body("")).find("no operation"), std::string::npos);
  refusal(body("# only a comment"));
  refusal(body("{ a { b }"));
  refusal(body("{ a } }"));
  refusal(body("{ a(x: \"unterminated) }"));
  refusal(body("{ a(x: \"\"\"unterminated) }"));
  refusal(body("{ a(x: \"bad \\q escape\") }"));
  refusal(body("{ a(x: \"bad \\u12\") }"));
  refusal(body("{ a(x: \"line\nbreak\") }"));
  refusal(body("type Query { a: Int }"));
  refusal(body("schema { query: Q }"));
  refusal(body("mutation"));
  refusal(body("mutation M("));
  refusal(body("fragment F { a }"));
  refusal(body("{ a % b }"));
  refusal(body("{ a(: 1) }"));
  refusal(body("{ a(x 1) }"));
  refusal(body("{ a: }"));
  refusal(body("{ \"s\" }"));
  std::string big = body("{ a }");
  big.insert(1, std::string(kMaxGraphqlBody, ' '));
  EXPECT_NE(refusal(big).find("1 MiB"), std::string::npos);
}

TEST(InspectGraphql, DeepNestingNeedsNoRecursion) {
  std::string q(100000, '{');
  q.insert(1, "repository(owner: \"o\", name: \"r\") ");
  for (int i = 0; i < 100000; ++i) q += i == 0 ? " a }" : "}";
  // "{ repository(...) { { { ... a } } }": not valid GraphQL, but must not overflow the stack.
  auto r = inspectGraphql(body(q));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->repos, Strings{"o/r"});
}

TEST(InspectGraphql, NullVariablesAreFine) {
  auto r = inspectGraphql(R"({"query": "{ viewer { login } }", "variables": null, "operationName": null})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->has_mutation);
}

}  // namespace
}  // namespace km::github
