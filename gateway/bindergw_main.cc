// bindergw: the netbinder gateway (docs/gateway.md, README "bindergw").
#include <malloc.h>
#include <signal.h>

#include <cstdio>

#include "gateway/config/options.h"
#include "gateway/gateway.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  absl::StatusOr<nb::gateway::GatewayOptions> options = nb::gateway::parseGatewayArgs(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "bindergw: %s\n%s", std::string(options.status().message()).c_str(),
                 nb::gateway::gatewayUsage());
    return 2;
  }
  if (options->help) {
    std::fputs(nb::gateway::gatewayUsage(), stdout);
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(options->log_level));
  // Parcels up to a few MiB are allocated and freed on every call, by many threads. With glibc's
  // defaults each such buffer is a fresh mmap (or is trimmed off its arena on free) and every
  // call pays the page faults of touching it again: 1 MiB calls ran at 0.2-0.3 of the gRPC
  // stream's bandwidth (docs/performance.md). Keep buffers below 8 MiB in the arenas and let an
  // arena keep up to 32 MiB free at its top.
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  // SIGINT/SIGTERM end the gateway; blocked here so that every thread inherits the mask and
  // sigwait below receives them. SIGPIPE: a closed socket is an error value, not a kill.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  spdlog::info("bindergw: {}", nb::gateway::describeOptions(*options));
  absl::StatusOr<std::unique_ptr<nb::gateway::Gateway>> gateway =
      nb::gateway::Gateway::start(*options);
  if (!gateway.ok()) {
    spdlog::error("bindergw: {}", gateway.status().ToString());
    return 1;
  }
  if (!options->listen.empty()) {
    spdlog::info("listening on {} (port {})", options->listen, (*gateway)->listenPort());
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("bindergw: signal {}, stopping", signal_number);
  (*gateway)->stop();
  return 0;
}
