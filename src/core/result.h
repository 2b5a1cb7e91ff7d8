// km::Result<T> and km::Error: how every expected failure travels in km.
// A Result holds either a value or an Error (code + message + context). It mirrors the
// std::expected surface so it can become a rename once we build with C++23.
// Value types; not thread-safe to mutate from several threads, safe to copy across them.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace km {

enum class ErrorCode {
  kInvalidArgument,   // the user's input (profile, flag, config) is wrong
  kNotFound,
  kPermissionDenied,
  kUnavailable,       // the environment failed us (EPERM, ENOENT, upstream 5xx, disk full)
  kBudgetExceeded,
  kInternal,
};

std::string_view errorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prepends what the caller was doing: "loading profile x.yaml: <message>".
  Error&& context(std::string_view what) && {
    message_ = std::string(what) + ": " + message_;
    return std::move(*this);
  }
  Error& context(std::string_view what) & {
    message_ = std::string(what) + ": " + message_;
    return *this;
  }

 private:
  ErrorCode code_;
  std::string message_;
};

inline Error invalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Error notFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Error permissionDenied(std::string m) { return {ErrorCode::kPermissionDenied, std::move(m)}; }
inline Error unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
inline Error internalError(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  Error& error() & { return std::get<1>(v_); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return has_value() ? std::move(*this).value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  Error& error() & { return error_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

using Status = Result<void>;
inline Status ok() { return {}; }

}  // namespace km

// Return early from the enclosing function when `expr` (a Result) holds an error.
#define KM_TRY(expr)                                 \
  do {                                               \
    auto km_try_result_ = (expr);                    \
    if (!km_try_result_) return std::move(km_try_result_).error(); \
  } while (0)
