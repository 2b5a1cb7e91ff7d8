#include "core/result.h"

namespace km {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "InvalidArgument";
    case ErrorCode::kNotFound: return "NotFound";
    case ErrorCode::kPermissionDenied: return "PermissionDenied";
    case ErrorCode::kUnavailable: return "Unavailable";
    case ErrorCode::kBudgetExceeded: return "BudgetExceeded";
    case ErrorCode::kInternal: return "Internal";
  }
  return "Unknown";
}

}  // namespace km
