#include "core/log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <mutex>
#include <optional>
#include <string>

namespace km::log {
namespace {

// A sink appending each formatted message to a RotatingFile (one record per message).
class RotatingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit RotatingSink(RotatingFile file) : file_(std::move(file)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t out;
    formatter_->format(msg, out);
    // A failed append drops the message: there is nowhere better to report it.
    (void)file_.append(std::string_view(out.data(), out.size()));
    if (file_.rotations() != rotations_seen_ && file_.fd() >= 0) {
      // stderr (crash reports, anything not logged through here) follows the live file
      // rather than a rotated one that will be deleted.
      rotations_seen_ = file_.rotations();
      ::dup2(file_.fd(), 2);
    }
  }
  void flush_() override {}

 private:
  RotatingFile file_;
  uint64_t rotations_seen_ = 0;
};

std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::warn;
std::shared_ptr<spdlog::sinks::sink> g_file_sink;  // set by toRotatingFile
bool g_stamped_stderr = false;                     // set by toStderrAsFile

// What km logs reads back (core/timeline.h parses it): UTC, as the network log.
constexpr const char* kFilePattern = "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v";

std::shared_ptr<spdlog::logger> loggerFor(std::string_view name) {
  std::string n(name);
  std::lock_guard<std::mutex> lock(g_mu);
  auto existing = spdlog::get(n);
  if (existing) return existing;
  std::shared_ptr<spdlog::logger> logger;
  if (g_file_sink) {
    logger = std::make_shared<spdlog::logger>(n, g_file_sink);
    logger->set_pattern(kFilePattern, spdlog::pattern_time_type::utc);
    spdlog::register_logger(logger);
  } else if (g_stamped_stderr) {
    logger = spdlog::stderr_logger_mt(n);
    logger->set_pattern(kFilePattern, spdlog::pattern_time_type::utc);
  } else {
    logger = spdlog::stderr_color_mt(n);
    logger->set_pattern("%^%l%$ [%n] %v");
  }
  logger->set_level(g_level);
  return logger;
}

}  // namespace

Status toRotatingFile(const std::string& path, const RotationLimits& limits) {
  auto file = RotatingFile::open(path, limits);
  if (!file) return std::move(file).error();
  std::lock_guard<std::mutex> lock(g_mu);
  g_file_sink = std::make_shared<RotatingSink>(std::move(*file));
  spdlog::drop_all();  // loggers made from now on write to the file
  return ok();
}

void toStderrAsFile() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_stamped_stderr = true;
  spdlog::drop_all();
}

void setVerbosity(int verbosity) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_level = verbosity >= 2 ? spdlog::level::debug
            : verbosity == 1 ? spdlog::level::info
                             : spdlog::level::warn;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

void raiseVerbosity(int verbosity) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto wanted = verbosity >= 2 ? spdlog::level::debug : verbosity == 1 ? spdlog::level::info : spdlog::level::warn;
  if (wanted >= g_level) return;  // lower level = more verbose
  g_level = wanted;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

void prepare(std::string_view logger) { (void)loggerFor(logger); }

void write(std::string_view logger, Level level, std::string_view message) {
  static constexpr spdlog::level::level_enum kMap[] = {
      spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err,
      spdlog::level::critical};
  loggerFor(logger)->log(kMap[static_cast<int>(level)], "{}", message);
}

}  // namespace km::log
