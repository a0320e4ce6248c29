// binderd's process-level wiring: the socket directory, the single-instance lock, one
// DeviceServer thread per device, signal-driven shutdown, and the --dump client.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "local_driver/client/wire.h"

namespace nb::driver::io {

inline constexpr const char* kDeviceNames[] = {"binder", "hwbinder", "vndbinder"};
inline constexpr const char* kLockFileName = "binderd.lock";

struct DaemonOptions {
  std::string dir;  // where the device sockets and the lock file live
  // Never read client memory or take client files directly (tests of the inline fallback).
  bool force_inline = false;
  // Security context delivered with BR_TRANSACTION_SEC_CTX (empty: such calls fail, as on a
  // kernel without an LSM secid for the sender).
  std::string security_context;
};

// $NETBINDER_DIR, else /run/netbinder.
std::string defaultSocketDir();

// Serves until SIGTERM/SIGINT. Returns the process exit code: 0 after a clean shutdown (sockets
// removed), 1 when DIR is in use by a live binderd or cannot be set up.
int runDaemon(const DaemonOptions& options);

// Connects to the running daemon's `devices` in `dir` and writes their dumps to `out`.
// Returns the exit code (0, or 1 with a message on `err`).
int runDump(const std::string& dir, client::wire::AdminKind kind,
            const std::vector<std::string>& devices, std::ostream& out, std::ostream& err);

}  // namespace nb::driver::io
