#include "daemon/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace hs::daemon {

Loggers make_loggers(spdlog::level::level_enum level) {
    // Thread-safe sink: later subsystems may log from other threads.
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] %v");
    auto make = [&](const char* name) {
        auto logger = std::make_shared<spdlog::logger>(name, sink);
        logger->set_level(level);
        logger->flush_on(spdlog::level::info);
        return logger;
    };
    return Loggers{make("daemon"), make("rpc"), make("core"), make("swarm"), make("dht"), make("mdns")};
}

}  // namespace hs::daemon
