// Regular expressions (ECMAScript) for profile values, each with the words used in errors.
// Private to the profile module.
#pragma once

#include <string_view>

namespace km::profile::patterns {

inline constexpr std::string_view kApiVersion = R"(^.+/v1alpha2$)";
inline constexpr std::string_view kPrefix = R"(^[a-z][a-z0-9]{0,11}$)";
inline constexpr std::string_view kTtl = R"(^(0|[0-9]+(s|m|h|d))$)";
inline constexpr std::string_view kIdle = R"(^[0-9]+(s|m|h|d)$)";
inline constexpr std::string_view kSessionDuration = R"(^[0-9]+(s|m|h)$)";
// AWS-style region names: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4.
inline constexpr std::string_view kRegion = R"(^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$)";
// family[-variant].size: t3.medium, g6e.12xlarge, m7i-flex.large, u-6tb1.metal.
inline constexpr std::string_view kInstanceType = R"(^[a-z][a-z0-9-]*\.[a-z0-9-]+$)";
// DNS labels; a suffix may start with a dot, "*" allows everything.
inline constexpr std::string_view kDnsSuffix =
    R"(^(\*|\.?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?)$)";
inline constexpr std::string_view kHost =
    R"(^(\*|([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?|\[[0-9A-Fa-f:.]+\])$)";
// "*", "org/*", "org/repo", optionally behind "github.com/".
inline constexpr std::string_view kRepo =
    R"(^(\*|(github\.com/)?(\*|[A-Za-z0-9_.-]+/(\*|[A-Za-z0-9_.-]+)))$)";
// A git ref name or glob: no spaces, no ~ ^ : \, no "..".
inline constexpr std::string_view kRef = R"(^(?!.*\.\.)(?!/)[^\s~^:\\]+$)";
inline constexpr std::string_view kSnapshotId = R"(^snap-[0-9a-f]{8,17}$)";
inline constexpr std::string_view kAbsolutePath = R"(^/)";
inline constexpr std::string_view kDevice = R"(^/dev/sd[f-p]$)";
inline constexpr std::string_view kAmiId = R"(^ami-[0-9a-f]{8,17}$)";
inline constexpr std::string_view kGeometry = R"(^[0-9]+x[0-9]+$)";
inline constexpr std::string_view kEmailAlias = R"(^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$)";
inline constexpr std::string_view kSlackChannel = R"(^C[A-Z0-9]+$)";
inline constexpr std::string_view kSlackUser = R"(^[UW][A-Z0-9]+$)";
inline constexpr std::string_view kEmail = R"(^[^@\s]+@[^@\s]+\.[^@\s]+$)";

}  // namespace km::profile::patterns
