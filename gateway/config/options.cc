#include "gateway/config/options.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gateway/config/gateway_config.pb.h"
#include "runtime/device_flags.h"

namespace nb::gateway {
namespace {

namespace config_pb = ::netbinder::gateway::v1;

// (absl::string_view is not std::string_view in this abseil build: strings go through
// std::string before reaching absl::StrCat.)
std::string str(std::string_view s) { return std::string(s); }

// ---- Config file -----------------------------------------------------------------------------

// Collects the text-format parser's first error as "FILE:LINE:COLUMN: message".
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string_view source_name) : source_name_(source_name) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) {
      return;
    }
    if (line < 0) {
      error_ = absl::StrCat(source_name_, ": ", message);
      return;
    }
    // The parser counts from 0; editors count from 1.
    error_ = absl::StrCat(source_name_, ":", line + 1, ":", column + 1, ": ", message);
  }

  const std::string& error() const { return error_; }

 private:
  std::string source_name_;
  std::string error_;
};

absl::StatusOr<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read config file '", path, "': ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::set<std::string>& logLevels() {
  static const std::set<std::string> kLevels = {"trace",   "debug", "info",     "warn",
                                                "warning", "error", "critical", "off"};
  return kLevels;
}

absl::StatusOr<std::string> parseLogLevel(std::string_view what, const std::string& level) {
  if (logLevels().count(level) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(str(what), ": unknown log level '", level,
                                                   "' (trace|debug|info|warn|error|critical|off)"));
  }
  return level == "warning" ? std::string("warn") : level;
}

void appendAll(std::vector<std::string>* to,
               const google::protobuf::RepeatedPtrField<std::string>& from) {
  to->insert(to->end(), from.begin(), from.end());
}

// Scalars of the file replace the defaults only when set (proto3: non-zero / non-empty).
void applyConfigScalars(const config_pb::GatewayConfig& config, GatewayOptions* options) {
  auto set_u32 = [](uint32_t value, uint32_t* field) {
    if (value != 0) {
      *field = value;
    }
  };
  set_u32(config.max_threads(), &options->max_threads);
  set_u32(config.keepalive_interval_ms(), &options->keepalive_interval_ms);
  set_u32(config.keepalive_timeout_ms(), &options->keepalive_timeout_ms);
  set_u32(config.call_timeout_ms(), &options->call_timeout_ms);
  set_u32(config.discovery_interval_ms(), &options->discovery_interval_ms);
  set_u32(config.backoff_initial_ms(), &options->backoff_initial_ms);
  set_u32(config.backoff_max_ms(), &options->backoff_max_ms);
  if (config.send_queue_bytes() != 0) {
    options->send_queue_bytes = config.send_queue_bytes();
  }
  if (config.receive_area_bytes() != 0) {
    options->receive_area_bytes = config.receive_area_bytes();
  }
  if (!config.device().empty()) {
    options->device = config.device();
  }
  if (!config.gateway_id().empty()) {
    options->gateway_id = config.gateway_id();
  }
  if (!config.gateway_name().empty()) {
    options->gateway_name = config.gateway_name();
  }
  if (!config.listen().empty()) {
    options->listen = config.listen();
  }
  if (!config.import_prefix().empty()) {
    options->import_prefix = config.import_prefix();
  }
  if (config.insecure()) {
    options->insecure = true;
  }
}

// ---- Flags -----------------------------------------------------------------------------------

// True if `--name` or `--name=...` occurs before a "--".
bool hasFlag(const std::vector<std::string>& args, std::string_view name) {
  const std::string flag = absl::StrCat("--", str(name));
  for (const std::string& arg : args) {
    if (arg == "--") {
      return false;
    }
    if (arg == flag || arg.rfind(flag + "=", 0) == 0) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<uint64_t> parseNumber(std::string_view flag, std::string_view text, uint64_t max) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(str(flag), ": '", str(text), "' is not a number in 0..", max));
  }
  return value;
}

// The flags that take a number, and where it goes.
struct NumberFlag {
  const char* name;
  uint32_t GatewayOptions::*u32;
  uint64_t GatewayOptions::*u64;
};
constexpr NumberFlag kNumberFlags[] = {
    {"--keepalive-interval-ms", &GatewayOptions::keepalive_interval_ms, nullptr},
    {"--keepalive-timeout-ms", &GatewayOptions::keepalive_timeout_ms, nullptr},
    {"--call-timeout-ms", &GatewayOptions::call_timeout_ms, nullptr},
    {"--discovery-interval-ms", &GatewayOptions::discovery_interval_ms, nullptr},
    {"--backoff-initial-ms", &GatewayOptions::backoff_initial_ms, nullptr},
    {"--backoff-max-ms", &GatewayOptions::backoff_max_ms, nullptr},
    {"--send-queue-bytes", nullptr, &GatewayOptions::send_queue_bytes},
    {"--receive-area-bytes", nullptr, &GatewayOptions::receive_area_bytes},
};

// The flags that take a string: a scalar replaces, a list appends.
struct StringFlag {
  const char* name;
  std::string GatewayOptions::*scalar;
  std::vector<std::string> GatewayOptions::*list;
};
constexpr StringFlag kStringFlags[] = {
    {"--listen", &GatewayOptions::listen, nullptr},
    {"--connect", nullptr, &GatewayOptions::connect},
    {"--export", nullptr, &GatewayOptions::export_globs},
    {"--import", nullptr, &GatewayOptions::import_globs},
    {"--import-prefix", &GatewayOptions::import_prefix, nullptr},
    {"--gateway-id", &GatewayOptions::gateway_id, nullptr},
    {"--gateway-name", &GatewayOptions::gateway_name, nullptr},
};

bool isValueFlag(const std::string& flag) {
  if (flag == "--config" || flag == "--log-level") {
    return true;
  }
  for (const StringFlag& f : kStringFlags) {
    if (flag == f.name) {
      return true;
    }
  }
  for (const NumberFlag& f : kNumberFlags) {
    if (flag == f.name) {
      return true;
    }
  }
  return false;
}

// One "--flag[=value]" at args[*i]; advances *i past a separate value.
absl::Status applyFlag(const std::vector<std::string>& args, size_t* i, GatewayOptions* options) {
  std::string flag = args[*i];
  std::optional<std::string> inline_value;
  if (size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
    inline_value = flag.substr(eq + 1);
    flag = flag.substr(0, eq);
  }
  auto value = [&]() -> absl::StatusOr<std::string> {
    if (inline_value.has_value()) {
      return *inline_value;
    }
    if (*i + 1 >= args.size()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    }
    return args[++*i];
  };
  if (flag == "--help" || flag == "-h" || flag == "--insecure") {
    if (inline_value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " takes no value"));
    }
    (flag == "--insecure" ? options->insecure : options->help) = true;
    return absl::OkStatus();
  }
  if (!isValueFlag(flag)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown argument '", args[*i], "' (bindergw --help lists the flags)"));
  }
  absl::StatusOr<std::string> v = value();
  if (!v.ok()) {
    return v.status();
  }
  if (flag == "--config") {
    return absl::OkStatus();  // already read
  }
  if (flag == "--log-level") {
    absl::StatusOr<std::string> level = parseLogLevel(flag, *v);
    if (!level.ok()) {
      return level.status();
    }
    options->log_level = *level;
    return absl::OkStatus();
  }
  for (const StringFlag& f : kStringFlags) {
    if (flag == f.name) {
      if (f.list != nullptr) {
        (options->*f.list).push_back(*v);
      } else {
        options->*f.scalar = *v;
      }
      return absl::OkStatus();
    }
  }
  for (const NumberFlag& f : kNumberFlags) {
    if (flag == f.name) {
      const uint64_t max = f.u32 != nullptr ? std::numeric_limits<uint32_t>::max()
                                            : std::numeric_limits<uint64_t>::max();
      absl::StatusOr<uint64_t> n = parseNumber(flag, *v, max);
      if (!n.ok()) {
        return n.status();
      }
      if (f.u32 != nullptr) {
        options->*f.u32 = static_cast<uint32_t>(*n);
      } else {
        options->*f.u64 = *n;
      }
      return absl::OkStatus();
    }
  }
  return absl::InternalError(absl::StrCat("flag table has no ", flag));
}

// The value of the only --config, if any.
absl::StatusOr<std::optional<std::string>> findConfigPath(const std::vector<std::string>& args) {
  std::optional<std::string> path;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::optional<std::string> found;
    if (arg == "--config") {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError("--config needs a value");
      }
      found = args[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      found = arg.substr(std::strlen("--config="));
    } else {
      continue;
    }
    if (path.has_value()) {
      return absl::InvalidArgumentError("--config given twice");
    }
    path = found;
  }
  return path;
}

std::string hostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
    return "bindergw";
  }
  return name;
}

void fillDefaults(GatewayOptions* options) {
  if (options->gateway_id.empty()) {
    options->gateway_id = hostName();
  }
  if (options->gateway_name.empty()) {
    options->gateway_name = options->gateway_id;
  }
  options->limits.set_keepalive_interval_ms(options->keepalive_interval_ms);
  options->limits.set_keepalive_timeout_ms(options->keepalive_timeout_ms);
}

}  // namespace

runtime::ProcessOptions GatewayOptions::processOptions() const {
  runtime::ProcessOptions options;
  options.device = deviceSpec();
  options.max_threads = max_threads;
  if (receive_area_bytes != 0) {
    options.receive_area_size = static_cast<size_t>(receive_area_bytes);
  }
  return options;
}

absl::Status applyConfigText(std::string_view text, std::string_view source_name,
                             GatewayOptions* options) {
  config_pb::GatewayConfig config;
  FirstErrorCollector errors(source_name);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(str(text), &config)) {
    return absl::InvalidArgumentError(
        errors.error().empty() ? absl::StrCat(str(source_name), ": parse error") : errors.error());
  }
  const std::string where = str(source_name);
  if (!config.log_level().empty()) {
    absl::StatusOr<std::string> level = parseLogLevel(where + ": log_level", config.log_level());
    if (!level.ok()) {
      return level.status();
    }
    options->log_level = *level;
  }
  if (!config.sm_layout().empty()) {
    absl::StatusOr<runtime::ServiceManagerLayout> layout =
        runtime::parseServiceManagerLayout(config.sm_layout());
    if (!layout.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": sm_layout: ", std::string(layout.status().message())));
    }
    options->sm_layout = *layout;
  }
  if (config.limits().keepalive_interval_ms() != 0 || config.limits().keepalive_timeout_ms() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        ": limits.keepalive_interval_ms/keepalive_timeout_ms are not set in limits: use the "
        "top-level keepalive_interval_ms/keepalive_timeout_ms"));
  }
  options->limits = config.limits();
  applyConfigScalars(config, options);
  appendAll(&options->connect, config.connect());
  appendAll(&options->export_globs, config.export_());
  appendAll(&options->import_globs, config.import());
  for (const config_pb::Peer& peer : config.peer()) {
    PeerRule rule;
    rule.address = peer.address();
    appendAll(&rule.import, peer.import());
    if (peer.has_import_prefix()) {
      rule.import_prefix = peer.import_prefix();
    }
    options->peers.push_back(std::move(rule));
  }
  return absl::OkStatus();
}

absl::StatusOr<GatewayOptions> parseGatewayArgs(std::vector<std::string> args) {
  // parseCommonFlags fills its defaults in; only the flags actually given may override the file.
  const bool sm_layout_given = hasFlag(args, "sm-layout");
  const bool max_threads_given = hasFlag(args, "max-threads");
  absl::StatusOr<runtime::CommonFlags> common = runtime::parseCommonFlags(args);
  if (!common.ok()) {
    return common.status();
  }
  GatewayOptions options;
  absl::StatusOr<std::optional<std::string>> config_path = findConfigPath(args);
  if (!config_path.ok()) {
    return config_path.status();
  }
  if (config_path->has_value()) {
    absl::StatusOr<std::string> text = readFile(**config_path);
    if (!text.ok()) {
      return text.status();
    }
    if (absl::Status s = applyConfigText(*text, **config_path, &options); !s.ok()) {
      return s;
    }
  }
  if (common->device.has_value()) {
    options.device = common->device;
  }
  if (sm_layout_given) {
    options.sm_layout = common->sm_layout;
  }
  if (max_threads_given) {
    options.max_threads = common->max_threads;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (absl::Status s = applyFlag(args, &i, &options); !s.ok()) {
      return s;
    }
  }
  if (options.help) {
    return options;
  }
  fillDefaults(&options);
  if (absl::Status s = validateGatewayOptions(options); !s.ok()) {
    return s;
  }
  return options;
}

absl::StatusOr<GatewayOptions> parseGatewayArgs(int argc, char** argv) {
  return parseGatewayArgs(std::vector<std::string>(argv + 1, argv + argc));
}

// ---- Validation ------------------------------------------------------------------------------

namespace {

absl::Status checkEndpoint(std::string_view what, const std::string& text, bool insecure) {
  absl::StatusOr<Address> address = parseAddress(text);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(str(what), " address ", std::string(address.status().message())));
  }
  if (what == "connect" && address->kind == Address::Kind::kHostPort && address->port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("connect address '", text, "': port 0 is only meaningful for listen"));
  }
  if (!insecure && !isLoopback(*address)) {
    return absl::InvalidArgumentError(
        absl::StrCat(str(what), " address '", text,
                     "': plaintext gRPC on a non-loopback address needs --insecure (TLS is not "
                     "implemented yet)"));
  }
  return absl::OkStatus();
}

absl::Status checkGlobs(std::string_view what, const std::vector<std::string>& globs) {
  for (const std::string& glob : globs) {
    if (glob.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("empty ", str(what), " glob"));
    }
  }
  return absl::OkStatus();
}

absl::Status checkAddresses(const GatewayOptions& options) {
  if (options.listen.empty() && options.connect.empty()) {
    return absl::InvalidArgumentError(
        "nothing to do: give --listen ADDR and/or --connect ADDR (or listen / connect in the "
        "config file)");
  }
  if (!options.listen.empty()) {
    if (absl::Status s = checkEndpoint("listen", options.listen, options.insecure); !s.ok()) {
      return s;
    }
  }
  for (const std::string& connect : options.connect) {
    if (absl::Status s = checkEndpoint("connect", connect, options.insecure); !s.ok()) {
      return s;
    }
  }
  for (const PeerRule& peer : options.peers) {
    if (peer.address.empty()) {
      return absl::InvalidArgumentError("a peer rule needs an address");
    }
    absl::StatusOr<Address> address = parseAddress(peer.address, /*allow_bare_host=*/true);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("peer address ", std::string(address.status().message())));
    }
    if (absl::Status s = checkGlobs("peer import", peer.import); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status checkTimes(const GatewayOptions& options) {
  auto error = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (options.keepalive_interval_ms == 0) {
    return error("keepalive_interval_ms must be greater than 0");
  }
  if (options.keepalive_timeout_ms <= options.keepalive_interval_ms) {
    return error("keepalive_timeout_ms (", options.keepalive_timeout_ms,
                 ") must be greater than keepalive_interval_ms (", options.keepalive_interval_ms,
                 ")");
  }
  if (options.discovery_interval_ms == 0) {
    return error("discovery_interval_ms must be greater than 0");
  }
  if (options.backoff_initial_ms == 0) {
    return error("backoff_initial_ms must be greater than 0");
  }
  if (options.backoff_max_ms < options.backoff_initial_ms) {
    return error("backoff_max_ms (", options.backoff_max_ms,
                 ") must not be less than backoff_initial_ms (", options.backoff_initial_ms, ")");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status validateGatewayOptions(const GatewayOptions& options) {
  if (absl::Status s = checkAddresses(options); !s.ok()) {
    return s;
  }
  if (absl::Status s = checkGlobs("export", options.export_globs); !s.ok()) {
    return s;
  }
  if (absl::Status s = checkGlobs("import", options.import_globs); !s.ok()) {
    return s;
  }
  if (absl::Status s = checkTimes(options); !s.ok()) {
    return s;
  }
  if (options.send_queue_bytes == 0) {
    return absl::InvalidArgumentError("send_queue_bytes must be greater than 0");
  }
  if (options.receive_area_bytes != 0 && (options.receive_area_bytes < kMinReceiveAreaBytes ||
                                          options.receive_area_bytes > kMaxReceiveAreaBytes ||
                                          options.receive_area_bytes % kReceiveAreaGranule != 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("receive_area_bytes (", options.receive_area_bytes, ") must be a multiple of ",
                     kReceiveAreaGranule, " from ", kMinReceiveAreaBytes, " to ",
                     kMaxReceiveAreaBytes, " (the kernel driver caps a binder mmap at 4 MiB)"));
  }
  if (options.max_threads == 0) {
    return absl::InvalidArgumentError("max_threads must be at least 1");
  }
  if (options.gateway_id.empty()) {
    return absl::InvalidArgumentError("gateway_id must not be empty");
  }
  return absl::OkStatus();
}

// ---- Presentation ----------------------------------------------------------------------------

namespace {

std::string listOf(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", items[i]);
  }
  return out + "]";
}

std::string peersOf(const std::vector<PeerRule>& peers) {
  std::string out = "[";
  for (size_t i = 0; i < peers.size(); ++i) {
    const PeerRule& peer = peers[i];
    absl::StrAppend(&out, i == 0 ? "" : ",", peer.address, "{import=", listOf(peer.import));
    if (peer.import_prefix.has_value()) {
      absl::StrAppend(&out, " import_prefix=\"", *peer.import_prefix, "\"");
    }
    absl::StrAppend(&out, "}");
  }
  return out + "]";
}

}  // namespace

std::string describeOptions(const GatewayOptions& o) {
  return absl::StrCat(
      "gateway_id=", o.gateway_id, " gateway_name=", o.gateway_name,
      " device=", o.deviceSpec().toString(), " listen=", o.listen.empty() ? "-" : o.listen,
      " connect=", listOf(o.connect), " export=", listOf(o.export_globs),
      " import=", listOf(o.import_globs), " import_prefix=\"", o.import_prefix, "\"",
      " peers=", peersOf(o.peers), " insecure=", o.insecure ? "true" : "false",
      " log_level=", o.log_level,
      " sm_layout=", str(runtime::serviceManagerLayoutName(o.sm_layout)),
      " max_threads=", o.max_threads, " keepalive_interval_ms=", o.keepalive_interval_ms,
      " keepalive_timeout_ms=", o.keepalive_timeout_ms, " call_timeout_ms=", o.call_timeout_ms,
      " discovery_interval_ms=", o.discovery_interval_ms,
      " backoff_initial_ms=", o.backoff_initial_ms, " backoff_max_ms=", o.backoff_max_ms,
      " send_queue_bytes=", o.send_queue_bytes, " receive_area_bytes=",
      o.receive_area_bytes != 0 ? o.receive_area_bytes : runtime::defaultReceiveAreaSize(),
      " limits={", o.limits.ShortDebugString(), "}");
}

const char* gatewayUsage() {
  return "usage: bindergw [--config FILE] [--device PATH] [--listen ADDR] [--connect ADDR]...\n"
         "                [--export GLOB]... [--import GLOB]... [--import-prefix STR]\n"
         "                [--insecure] [--gateway-id ID] [--gateway-name NAME]\n"
         "                [--log-level LEVEL] [--sm-layout R] [--max-threads N]\n"
         "                [--keepalive-interval-ms N] [--keepalive-timeout-ms N]\n"
         "                [--call-timeout-ms N] [--discovery-interval-ms N]\n"
         "                [--backoff-initial-ms N] [--backoff-max-ms N] [--send-queue-bytes N]\n"
         "                [--receive-area-bytes N]\n"
         "Connects the local Binder driver to peer gateways over gRPC: local services matching\n"
         "--export are offered to peers, peers' services matching --import are registered in the\n"
         "local service manager as PREFIX+NAME.\n"
         "  --config FILE            netbinder.gateway.v1.GatewayConfig in protobuf text format,\n"
         "                           read first; flags override its scalars and append to its "
         "lists\n"
         "  --device PATH            binder device (default: $NETBINDER_DIR/binder if set, else\n"
         "                           /dev/binder)\n"
         "  --listen ADDR            accept peers on HOST:PORT, [V6]:PORT or unix:/abs/path\n"
         "  --connect ADDR           dial a peer gateway (repeatable)\n"
         "  --export GLOB            local service names offered to peers (repeatable; default "
         "none)\n"
         "  --import GLOB            peers' service names registered locally (repeatable; default\n"
         "                           none)\n"
         "  --import-prefix STR      local name of an imported service = STR + remote name\n"
         "  --insecure               allow plaintext gRPC on non-loopback addresses (TLS is not\n"
         "                           implemented yet; without it only loopback and unix: are "
         "allowed)\n"
         "  --gateway-id ID          mesh-unique id sent to peers (default: host name)\n"
         "  --gateway-name NAME      name for logs (default: the id)\n"
         "  --log-level LEVEL        trace|debug|info|warn|error|critical|off (default info)\n"
         "  --sm-layout RELEASE      local IServiceManager protocol: 10 (legacy), 11..16, newest\n"
         "  --max-threads N          looper threads per local binder connection (default 8)\n"
         "  --keepalive-interval-ms N  ping an idle peer after N ms (default 10000)\n"
         "  --keepalive-timeout-ms N   peer dead after N ms of silence (default 30000)\n"
         "  --call-timeout-ms N      forwarded sync call fails with BR_DEAD_REPLY after N ms\n"
         "                           (default 0 = no deadline)\n"
         "  --discovery-interval-ms N  re-list a peer's exported services every N ms (default "
         "1000)\n"
         "  --backoff-initial-ms N, --backoff-max-ms N  reconnect backoff (default 100, 5000)\n"
         "  --send-queue-bytes N     per-peer send queue bound (default 8388608)\n"
         "  --receive-area-bytes N   binder receive area of each local connection, the largest\n"
         "                           transaction it takes: 65536..4194304, a multiple of 4096\n"
         "                           (default 1040384 = 1 MiB - 2 pages)\n";
}

}  // namespace nb::gateway
