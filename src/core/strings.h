// Small string helpers shared by every module. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace km {

std::string toLower(std::string_view s);
// ASCII case-insensitive equality (HTTP header names, media types); other bytes as they are.
bool equalsIgnoringAsciiCase(std::string_view a, std::string_view b);
std::string_view trim(std::string_view s);
bool startsWith(std::string_view s, std::string_view prefix);
bool endsWith(std::string_view s, std::string_view suffix);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(std::span<const std::string> parts, std::string_view sep);

// Levenshtein distance (insert, delete, substitute cost 1; case-insensitive).
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo
// (distance ≤ max(1, len/3), or same letters ignoring case), else nullopt.
std::optional<std::string> closestMatch(std::string_view word,
                                        std::span<const std::string_view> candidates);

// Quotes `s` for a human message: "name" with quotes and control chars escaped.
std::string quoted(std::string_view s);

// `s` made harmless for a terminal: C0 controls and DEL as \xNN (tabs and newlines kept
// when `keep_newlines`, else written \t and \n), C1 controls, the Unicode bidirectional
// overrides and isolates, and the invisible characters (zero-width, directional marks, line
// separators, BOM, soft hyphen, fillers, tags), which can make displayed text read
// differently, as \u{…}, and bytes that are not valid UTF-8 as \xNN. For display only (a literal "\x1b" in the text looks the same). For every string that came out of a sandbox (names, paths, process names, its output).
std::string escapeForTerminal(std::string_view s, bool keep_newlines = true);

// Base64 (RFC 4648): the standard alphabet with padding, or base64url without padding (JWT).
std::string base64Encode(std::string_view bytes, bool url = false);
// Decodes either alphabet, padding optional; nullopt on any other character or a bad length.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace km
