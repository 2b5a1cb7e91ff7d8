#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <string>

namespace km::log {
namespace {

std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::warn;

std::shared_ptr<spdlog::logger> loggerFor(std::string_view name) {
  std::string n(name);
  std::lock_guard<std::mutex> lock(g_mu);
  auto existing = spdlog::get(n);
  if (existing) return existing;
  auto logger = spdlog::stderr_color_mt(n);
  logger->set_pattern("%^%l%$ [%n] %v");
  logger->set_level(g_level);
  return logger;
}

}  // namespace

void setVerbosity(int verbosity) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_level = verbosity >= 2 ? spdlog::level::debug
            : verbosity == 1 ? spdlog::level::info
                             : spdlog::level::warn;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

void write(std::string_view logger, Level level, std::string_view message) {
  static constexpr spdlog::level::level_enum kMap[] = {
      spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err,
      spdlog::level::critical};
  loggerFor(logger)->log(kMap[static_cast<int>(level)], "{}", message);
}

}  // namespace km::log
