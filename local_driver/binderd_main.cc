// binderd: the userspace Binder driver daemon (docs/binderd.md).
//
//   binderd [--dir DIR] [--log-level LEVEL]      serve DIR/binder, DIR/hwbinder, DIR/vndbinder
//   binderd --dump state|stats|transactions [--dir DIR] [--device NAME]
//
// DIR defaults to $NETBINDER_DIR, else /run/netbinder. --force-inline makes every client send
// transaction memory and files inline, as when process_vm_readv/pidfd_getfd are not permitted.
// --security-context CTX is delivered with BR_TRANSACTION_SEC_CTX to managers that ask for it
// (servicemanager does); without it such calls fail as on a kernel without an LSM.
#include <iostream>
#include <string>
#include <vector>

#include "local_driver/io/daemon.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

void usage(std::ostream& os) {
  os << "usage: binderd [--dir DIR] [--log-level trace|debug|info|warn|error] [--force-inline]\n"
        "               [--security-context CTX]\n"
        "       binderd --dump state|stats|transactions [--dir DIR] [--device NAME]\n"
        "DIR defaults to $NETBINDER_DIR, else /run/netbinder.\n";
}

}  // namespace

int main(int argc, char** argv) {
  namespace io = nb::driver::io;
  namespace wire = nb::client::wire;
  std::string dir = io::defaultSocketDir();
  std::string dump;
  std::string device;
  std::string level = "info";
  bool force_inline = false;
  std::string security_context;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) {
        std::cerr << "binderd: " << a << " needs a value\n";
        return false;
      }
      *out = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "--dir") {
      ok = value(&dir);
    } else if (a == "--dump") {
      ok = value(&dump);
    } else if (a == "--device") {
      ok = value(&device);
    } else if (a == "--security-context") {
      ok = value(&security_context);
    } else if (a == "--force-inline") {
      force_inline = true;
    } else if (a == "--log-level") {
      ok = value(&level);
    } else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "binderd: unknown argument " << a << "\n";
      ok = false;
    }
    if (!ok) {
      usage(std::cerr);
      return 2;
    }
  }
  if (!dump.empty()) {
    wire::AdminKind kind;
    if (dump == "state") {
      kind = wire::AdminKind::kState;
    } else if (dump == "stats") {
      kind = wire::AdminKind::kStats;
    } else if (dump == "transactions") {
      kind = wire::AdminKind::kTransactions;
    } else {
      usage(std::cerr);
      return 2;
    }
    std::vector<std::string> devices;
    if (!device.empty()) {
      devices.push_back(device);
    } else {
      devices.assign(std::begin(io::kDeviceNames), std::end(io::kDeviceNames));
    }
    return io::runDump(dir, kind, devices, std::cout, std::cerr);
  }
  const auto log_level = spdlog::level::from_str(level);
  if (log_level == spdlog::level::off && level != "off") {
    std::cerr << "binderd: unknown log level " << level << "\n";
    usage(std::cerr);
    return 2;
  }
  auto logger = spdlog::stderr_color_mt("binderd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(log_level);
  return io::runDaemon(io::DaemonOptions{dir, force_inline, security_context});
}
