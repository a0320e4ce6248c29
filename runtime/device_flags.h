// The command-line flags every netbinder binary shares (servicemanager, binderctl, bindergw,
// examples), parsed one way:
//
//   --device PATH            the Binder device (device.h resolveDevice: a character device →
//                            kernel; a socket path or name → binderd). Default: $NETBINDER_DIR's
//                            binder when set, else /dev/binder.
//   --sm-layout RELEASE      IServiceManager codes/headers: 10 (legacy numeric), 11 … 16,
//                            "newest" (default).
//   --max-threads N          looper threads the driver may ask for (BINDER_SET_MAX_THREADS).
//
// Both "--flag VALUE" and "--flag=VALUE" are accepted. Recognised flags are removed; everything
// else is left, in order, for the binary's own parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/device.h"
#include "runtime/process_state.h"
#include "runtime/service_manager_codes.h"

namespace nb::runtime {

struct CommonFlags {
  std::optional<std::string> device;
  ServiceManagerLayout sm_layout = kNewestServiceManagerLayout;
  uint32_t max_threads = kDefaultMaxThreads;

  DeviceSpec deviceSpec() const { return resolveDevice(device); }
  ProcessOptions processOptions() const;
};

// Removes the common flags from `args` (argv[1..] as strings). InvalidArgument for a flag
// without its value or with a bad value.
absl::StatusOr<CommonFlags> parseCommonFlags(std::vector<std::string>& args);
// The same on argc/argv: argv is compacted in place (argv[0] kept), *argc updated.
absl::StatusOr<CommonFlags> parseCommonFlags(int* argc, char** argv);

// Usage lines for the common flags, for a binary's --help.
const char* commonFlagsUsage();

}  // namespace nb::runtime
