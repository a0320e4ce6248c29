// bindergw's effective configuration: the --config file (gateway_config.proto, text format) with
// the command-line flags applied on top, the defaults filled in and validated.
//
//   bindergw [--config FILE] [--device PATH] [--listen ADDR] [--connect ADDR]... [--export GLOB]...
//            [--import GLOB]... [--import-prefix STR] [--insecure] [--gateway-id ID]
//            [--gateway-name NAME] [--log-level LEVEL] [--sm-layout R] [--max-threads N]
//            [--keepalive-interval-ms N] [--keepalive-timeout-ms N] [--call-timeout-ms N]
//            [--discovery-interval-ms N] [--receive-area-bytes N] [--help]
//
// Order: the file is read first, whatever its position among the flags; then scalar flags replace
// the file's values and repeatable flags (--connect, --export, --import) append to its lists.
// Both "--flag VALUE" and "--flag=VALUE" work. --device, --sm-layout and --max-threads are parsed
// by runtime/device_flags.h, as in every netbinder binary.
//
// ADDR is "HOST:PORT" (host name or IPv4), "[V6]:PORT" or "unix:/abs/path". TLS is not
// implemented yet, so every session is plaintext: an address that is not loopback (127.0.0.0/8,
// ::1, localhost, unix:) is refused unless --insecure is given (fail closed).
//
// address.h (parseAddress, isLoopback) and import_policy.h (matchesAny, importGlobsFor,
// importedName) come with this header.
//
// Pure: no sockets, no device; only the config file is read.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/config/address.h"        // IWYU pragma: export
#include "gateway/config/import_policy.h"  // IWYU pragma: export
#include "proto/netbinder/v1/session.pb.h"
#include "runtime/device.h"
#include "runtime/process_state.h"
#include "runtime/service_manager_codes.h"

namespace nb::gateway {

// Defaults (gateway_config.proto documents each).
inline constexpr uint32_t kDefaultGatewayMaxThreads = 8;
inline constexpr uint32_t kDefaultKeepaliveIntervalMs = 10000;
inline constexpr uint32_t kDefaultKeepaliveTimeoutMs = 30000;
inline constexpr uint32_t kDefaultCallTimeoutMs = 0;
inline constexpr uint32_t kDefaultDiscoveryIntervalMs = 1000;
inline constexpr uint32_t kDefaultBackoffInitialMs = 100;
inline constexpr uint32_t kDefaultBackoffMaxMs = 5000;
inline constexpr uint64_t kDefaultSendQueueBytes = 8u << 20;
// receive_area_bytes bounds: a whole number of 4 KiB pages, at most the kernel driver's 4 MiB cap
// on a binder mmap. 0 = the runtime's default (runtime::defaultReceiveAreaSize()).
inline constexpr uint64_t kMinReceiveAreaBytes = 64u << 10;
inline constexpr uint64_t kMaxReceiveAreaBytes = 4u << 20;
inline constexpr uint64_t kReceiveAreaGranule = 4096;

// A per-peer import rule (gateway_config.proto, message Peer).
struct PeerRule {
  // "HOST:PORT" / "[V6]:PORT" / "unix:/path" (exact match) or a bare "HOST" / "[V6]" (any port).
  std::string address;
  // Replaces GatewayOptions::import for this peer when non-empty.
  std::vector<std::string> import;
  // Replaces GatewayOptions::import_prefix for this peer when set.
  std::optional<std::string> import_prefix;
};

struct GatewayOptions {
  // --device; nullopt = the common rule (runtime/device.h resolveDevice).
  std::optional<std::string> device;
  std::string gateway_id;    // default: the host name
  std::string gateway_name;  // default: gateway_id
  std::string listen;        // "" = accept no sessions
  std::vector<std::string> connect;
  std::vector<std::string> export_globs;  // config `export`, --export
  std::vector<std::string> import_globs;  // config `import`, --import
  std::string import_prefix;
  std::vector<PeerRule> peers;
  bool insecure = false;
  std::string log_level = "info";  // trace|debug|info|warn|error|critical|off
  runtime::ServiceManagerLayout sm_layout = runtime::kNewestServiceManagerLayout;
  uint32_t max_threads = kDefaultGatewayMaxThreads;  // per local binder connection
  uint32_t keepalive_interval_ms = kDefaultKeepaliveIntervalMs;
  uint32_t keepalive_timeout_ms = kDefaultKeepaliveTimeoutMs;
  uint32_t call_timeout_ms = kDefaultCallTimeoutMs;  // 0 = no per-call deadline
  uint32_t discovery_interval_ms = kDefaultDiscoveryIntervalMs;
  uint32_t backoff_initial_ms = kDefaultBackoffInitialMs;
  uint32_t backoff_max_ms = kDefaultBackoffMaxMs;
  uint64_t send_queue_bytes = kDefaultSendQueueBytes;
  // Receive area (binder mmap) of every local Binder connection; 0 = the runtime's default.
  uint64_t receive_area_bytes = 0;
  // What this gateway will receive (sent in Hello / HelloAck). 0 fields = protocol defaults.
  // INVARIANT (after parseGatewayArgs): limits.keepalive_interval_ms / keepalive_timeout_ms equal
  // the two fields above.
  netbinder::v1::Limits limits;
  // --help was given: the caller prints gatewayUsage() and exits; nothing was validated.
  bool help = false;

  runtime::DeviceSpec deviceSpec() const { return runtime::resolveDevice(device); }
  // Options for each local binder connection (device, max_threads, receive area).
  runtime::ProcessOptions processOptions() const;
};

// argv[1..] as strings. Reads --config, applies the flags, fills the defaults and validates.
// InvalidArgument with a message meant for the user (file:line:column for a config parse error).
absl::StatusOr<GatewayOptions> parseGatewayArgs(std::vector<std::string> args);
absl::StatusOr<GatewayOptions> parseGatewayArgs(int argc, char** argv);

// Applies a config file's text to `options` (what --config does; `source_name` names the file in
// error messages). No defaults are filled and nothing is validated beyond the text itself.
absl::Status applyConfigText(std::string_view text, std::string_view source_name,
                             GatewayOptions* options);

// The checks parseGatewayArgs runs last: at least one of listen/connect, every address parses,
// keepalive_timeout_ms > keepalive_interval_ms, the loopback rule, and the other ranges.
absl::Status validateGatewayOptions(const GatewayOptions& options);

// ---- Presentation ----------------------------------------------------------------------------

// The effective options as one log line ("gateway_id=a listen=127.0.0.1:7000 connect=[...] ...").
std::string describeOptions(const GatewayOptions& options);
// bindergw --help text.
const char* gatewayUsage();

}  // namespace nb::gateway
