// bindergw's options: flags, the --config text file, validation (incl. the fail-closed loopback
// rule) and the export/import policy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "gateway/config/options.h"

namespace nb::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kLoopbackInsecureHint =
    "plaintext gRPC on a non-loopback address needs --insecure (TLS is not implemented yet)";

absl::StatusOr<GatewayOptions> parse(std::vector<std::string> args) {
  return parseGatewayArgs(std::move(args));
}

// The error message of a failed parse (fails the test if it succeeded).
std::string errorOf(std::vector<std::string> args) {
  absl::StatusOr<GatewayOptions> options = parse(std::move(args));
  EXPECT_FALSE(options.ok());
  if (options.ok()) {
    return "";
  }
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(options.status().message());
}

std::string hostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

class ConfigFileTest : public ::testing::Test {
 protected:
  // Writes `text` to a fresh file and returns its path.
  std::string writeConfig(const std::string& text) {
    const std::string path = ::testing::TempDir() + "bindergw_config_test_" +
                             std::to_string(getpid()) + "_" + std::to_string(files_.size()) +
                             ".textproto";
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& path : files_) {
      unlink(path.c_str());
    }
  }

 private:
  std::vector<std::string> files_;
};

// ---- Defaults and flags ------------------------------------------------------------------------

TEST(GatewayOptionsTest, DefaultsAreFilledIn) {
  absl::StatusOr<GatewayOptions> o = parse({"--listen", "127.0.0.1:7000"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->device.has_value());
  EXPECT_EQ(o->gateway_id, hostName());
  EXPECT_EQ(o->gateway_name, o->gateway_id);
  EXPECT_EQ(o->listen, "127.0.0.1:7000");
  EXPECT_THAT(o->connect, IsEmpty());
  EXPECT_THAT(o->export_globs, IsEmpty());
  EXPECT_THAT(o->import_globs, IsEmpty());
  EXPECT_EQ(o->import_prefix, "");
  EXPECT_THAT(o->peers, IsEmpty());
  EXPECT_FALSE(o->insecure);
  EXPECT_EQ(o->log_level, "info");
  EXPECT_EQ(o->sm_layout, runtime::kNewestServiceManagerLayout);
  EXPECT_EQ(o->max_threads, 8u);
  EXPECT_EQ(o->keepalive_interval_ms, 10000u);
  EXPECT_EQ(o->keepalive_timeout_ms, 30000u);
  EXPECT_EQ(o->call_timeout_ms, 0u);
  EXPECT_EQ(o->discovery_interval_ms, 1000u);
  EXPECT_EQ(o->backoff_initial_ms, 100u);
  EXPECT_EQ(o->backoff_max_ms, 5000u);
  EXPECT_EQ(o->send_queue_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(o->limits.keepalive_interval_ms(), 10000u);
  EXPECT_EQ(o->limits.keepalive_timeout_ms(), 30000u);
  EXPECT_EQ(o->limits.max_frame_bytes(), 0u);
  EXPECT_FALSE(o->help);
}

TEST(GatewayOptionsTest, EveryFlag) {
  absl::StatusOr<GatewayOptions> o = parse({"--device",
                                            "/tmp/nb/binder",
                                            "--listen",
                                            "[::1]:7001",
                                            "--connect",
                                            "127.0.0.2:7002",
                                            "--connect",
                                            "unix:/run/gw.sock",
                                            "--export",
                                            "echo*",
                                            "--export",
                                            "android.*",
                                            "--import",
                                            "remote.*",
                                            "--import",
                                            "x",
                                            "--import-prefix",
                                            "b/",
                                            "--insecure",
                                            "--gateway-id",
                                            "gw-a",
                                            "--gateway-name",
                                            "Gateway A",
                                            "--log-level",
                                            "debug",
                                            "--sm-layout",
                                            "13",
                                            "--max-threads",
                                            "4",
                                            "--keepalive-interval-ms",
                                            "500",
                                            "--keepalive-timeout-ms",
                                            "1500",
                                            "--call-timeout-ms",
                                            "2500",
                                            "--discovery-interval-ms",
                                            "250",
                                            "--backoff-initial-ms",
                                            "10",
                                            "--backoff-max-ms",
                                            "20",
                                            "--send-queue-bytes",
                                            "65536"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->device, "/tmp/nb/binder");
  EXPECT_EQ(o->listen, "[::1]:7001");
  EXPECT_THAT(o->connect, ElementsAre("127.0.0.2:7002", "unix:/run/gw.sock"));
  EXPECT_THAT(o->export_globs, ElementsAre("echo*", "android.*"));
  EXPECT_THAT(o->import_globs, ElementsAre("remote.*", "x"));
  EXPECT_EQ(o->import_prefix, "b/");
  EXPECT_TRUE(o->insecure);
  EXPECT_EQ(o->gateway_id, "gw-a");
  EXPECT_EQ(o->gateway_name, "Gateway A");
  EXPECT_EQ(o->log_level, "debug");
  EXPECT_EQ(o->sm_layout, runtime::ServiceManagerLayout::kAndroid13);
  EXPECT_EQ(o->max_threads, 4u);
  EXPECT_EQ(o->keepalive_interval_ms, 500u);
  EXPECT_EQ(o->keepalive_timeout_ms, 1500u);
  EXPECT_EQ(o->call_timeout_ms, 2500u);
  EXPECT_EQ(o->discovery_interval_ms, 250u);
  EXPECT_EQ(o->backoff_initial_ms, 10u);
  EXPECT_EQ(o->backoff_max_ms, 20u);
  EXPECT_EQ(o->send_queue_bytes, 65536u);
  EXPECT_EQ(o->limits.keepalive_interval_ms(), 500u);
  EXPECT_EQ(o->limits.keepalive_timeout_ms(), 1500u);
  EXPECT_EQ(o->processOptions().max_threads, 4u);
}

TEST(GatewayOptionsTest, EqualsFormAndArgv) {
  std::vector<std::string> strings = {"bindergw",        "--connect=localhost:9",
                                      "--max-threads=2", "--log-level=warning",
                                      "--gateway-id=me", "--call-timeout-ms=7"};
  std::vector<char*> argv;
  for (std::string& s : strings) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  absl::StatusOr<GatewayOptions> o =
      parseGatewayArgs(static_cast<int>(strings.size()), argv.data());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->connect, ElementsAre("localhost:9"));
  EXPECT_EQ(o->max_threads, 2u);
  EXPECT_EQ(o->log_level, "warn");
  EXPECT_EQ(o->gateway_id, "me");
  EXPECT_EQ(o->call_timeout_ms, 7u);
}

TEST(GatewayOptionsTest, HelpSkipsValidation) {
  for (const char* flag : {"--help", "-h"}) {
    absl::StatusOr<GatewayOptions> o = parse({flag});
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_TRUE(o->help);
  }
  EXPECT_THAT(gatewayUsage(), HasSubstr("--import-prefix"));
}

TEST(GatewayOptionsTest, FlagErrors) {
  EXPECT_THAT(errorOf({"--listen"}), HasSubstr("--listen needs a value"));
  EXPECT_THAT(errorOf({"--listen", "127.0.0.1:1", "--frobnicate"}),
              HasSubstr("unknown argument '--frobnicate'"));
  EXPECT_THAT(errorOf({"--listen", "127.0.0.1:1", "stray"}), HasSubstr("unknown argument 'stray'"));
  EXPECT_THAT(errorOf({"--listen", "127.0.0.1:1", "--call-timeout-ms", "soon"}),
              HasSubstr("--call-timeout-ms: 'soon' is not a number"));
  EXPECT_THAT(errorOf({"--listen", "127.0.0.1:1", "--keepalive-interval-ms", "4294967296"}),
              HasSubstr("is not a number in 0..4294967295"));
  EXPECT_THAT(errorOf({"--listen", "127.0.0.1:1", "--insecure=yes"}),
              HasSubstr("--insecure takes no value"));
  EXPECT_THAT(errorOf({"--listen", "127.0.0.1:1", "--log-level", "loud"}),
              HasSubstr("unknown log level 'loud'"));
  EXPECT_FALSE(parse({"--listen", "127.0.0.1:1", "--sm-layout", "9"}).ok());
  EXPECT_THAT(errorOf({"--listen", "127.0.0.1:1", "--max-threads", "x"}),
              HasSubstr("--max-threads"));
  EXPECT_THAT(errorOf({"--config", "a", "--config=b"}), HasSubstr("--config given twice"));
  EXPECT_THAT(errorOf({"--config"}), HasSubstr("--config needs a value"));
}

// ---- Config file -------------------------------------------------------------------------------

constexpr const char* kFullConfig = R"pb(
  # every field
  device: "/tmp/nb/binder"
  gateway_id: "host-a"
  gateway_name: "A"
  listen: "127.0.0.1:7000"
  connect: "127.0.0.1:7001"
  connect: "[::1]:7002"
  export: "echo"
  import: "b.*"
  import_prefix: "b/"
  peer { address: "127.0.0.1:7001" import: "only.this" import_prefix: "c/" }
  peer { address: "localhost" }
  insecure: true
  log_level: "trace"
  sm_layout: "11"
  max_threads: 3
  keepalive_interval_ms: 200
  keepalive_timeout_ms: 900
  call_timeout_ms: 5000
  discovery_interval_ms: 300
  backoff_initial_ms: 50
  backoff_max_ms: 60
  send_queue_bytes: 1024
  limits { max_frame_bytes: 1048576 max_outstanding_calls: 64 }
)pb";

TEST_F(ConfigFileTest, EveryField) {
  absl::StatusOr<GatewayOptions> o = parse({"--config", writeConfig(kFullConfig)});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->device, "/tmp/nb/binder");
  EXPECT_EQ(o->gateway_id, "host-a");
  EXPECT_EQ(o->gateway_name, "A");
  EXPECT_EQ(o->listen, "127.0.0.1:7000");
  EXPECT_THAT(o->connect, ElementsAre("127.0.0.1:7001", "[::1]:7002"));
  EXPECT_THAT(o->export_globs, ElementsAre("echo"));
  EXPECT_THAT(o->import_globs, ElementsAre("b.*"));
  EXPECT_EQ(o->import_prefix, "b/");
  ASSERT_EQ(o->peers.size(), 2u);
  EXPECT_EQ(o->peers[0].address, "127.0.0.1:7001");
  EXPECT_THAT(o->peers[0].import, ElementsAre("only.this"));
  EXPECT_EQ(o->peers[0].import_prefix, "c/");
  EXPECT_EQ(o->peers[1].address, "localhost");
  EXPECT_THAT(o->peers[1].import, IsEmpty());
  EXPECT_FALSE(o->peers[1].import_prefix.has_value());
  EXPECT_TRUE(o->insecure);
  EXPECT_EQ(o->log_level, "trace");
  EXPECT_EQ(o->sm_layout, runtime::ServiceManagerLayout::kAndroid11);
  EXPECT_EQ(o->max_threads, 3u);
  EXPECT_EQ(o->keepalive_interval_ms, 200u);
  EXPECT_EQ(o->keepalive_timeout_ms, 900u);
  EXPECT_EQ(o->call_timeout_ms, 5000u);
  EXPECT_EQ(o->discovery_interval_ms, 300u);
  EXPECT_EQ(o->backoff_initial_ms, 50u);
  EXPECT_EQ(o->backoff_max_ms, 60u);
  EXPECT_EQ(o->send_queue_bytes, 1024u);
  EXPECT_EQ(o->limits.max_frame_bytes(), 1048576u);
  EXPECT_EQ(o->limits.max_outstanding_calls(), 64u);
  EXPECT_EQ(o->limits.keepalive_interval_ms(), 200u);
  EXPECT_EQ(o->limits.keepalive_timeout_ms(), 900u);
}

TEST_F(ConfigFileTest, RepeatableFlagsAppendToTheFilesLists) {
  const std::string path = writeConfig(R"pb(
    connect: "127.0.0.1:1" export: "a" import: "b"
  )pb");
  absl::StatusOr<GatewayOptions> o = parse({"--connect", "127.0.0.1:2", "--export", "c", "--config",
                                            path, "--import", "d", "--import", "e"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->connect, ElementsAre("127.0.0.1:1", "127.0.0.1:2"));
  EXPECT_THAT(o->export_globs, ElementsAre("a", "c"));
  EXPECT_THAT(o->import_globs, ElementsAre("b", "d", "e"));
}

TEST_F(ConfigFileTest, FlagsOverrideTheFilesScalars) {
  // --config comes last on the command line and is still read first.
  absl::StatusOr<GatewayOptions> o = parse({"--device",
                                            "/dev/binder",
                                            "--listen",
                                            "localhost:9",
                                            "--gateway-id",
                                            "flag-id",
                                            "--gateway-name",
                                            "flag-name",
                                            "--import-prefix",
                                            "f/",
                                            "--log-level",
                                            "error",
                                            "--sm-layout",
                                            "10",
                                            "--max-threads",
                                            "15",
                                            "--keepalive-interval-ms",
                                            "1",
                                            "--keepalive-timeout-ms",
                                            "2",
                                            "--call-timeout-ms",
                                            "3",
                                            "--discovery-interval-ms",
                                            "4",
                                            "--backoff-initial-ms",
                                            "5",
                                            "--backoff-max-ms",
                                            "6",
                                            "--send-queue-bytes",
                                            "7",
                                            "--config",
                                            writeConfig(kFullConfig)});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->device, "/dev/binder");
  EXPECT_EQ(o->listen, "localhost:9");
  EXPECT_EQ(o->gateway_id, "flag-id");
  EXPECT_EQ(o->gateway_name, "flag-name");
  EXPECT_EQ(o->import_prefix, "f/");
  EXPECT_EQ(o->log_level, "error");
  EXPECT_EQ(o->sm_layout, runtime::ServiceManagerLayout::kAndroid10);
  EXPECT_EQ(o->max_threads, 15u);  // the common flags' own default, given explicitly
  EXPECT_EQ(o->keepalive_interval_ms, 1u);
  EXPECT_EQ(o->keepalive_timeout_ms, 2u);
  EXPECT_EQ(o->call_timeout_ms, 3u);
  EXPECT_EQ(o->discovery_interval_ms, 4u);
  EXPECT_EQ(o->backoff_initial_ms, 5u);
  EXPECT_EQ(o->backoff_max_ms, 6u);
  EXPECT_EQ(o->send_queue_bytes, 7u);
  // Not given as flags: the file's values stay.
  EXPECT_TRUE(o->insecure);
  EXPECT_EQ(o->limits.max_frame_bytes(), 1048576u);
}

TEST_F(ConfigFileTest, CommonFlagsNotGivenKeepTheFilesValues) {
  absl::StatusOr<GatewayOptions> o =
      parse({"--config", writeConfig(kFullConfig), "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->max_threads, 3u);
  EXPECT_EQ(o->sm_layout, runtime::ServiceManagerLayout::kAndroid11);
  EXPECT_EQ(o->device, "/tmp/nb/binder");
}

TEST_F(ConfigFileTest, ParseErrorNamesFileAndLine) {
  const std::string path = writeConfig("gateway_id: \"a\"\n\nlisten: 127.0.0.1:7000\n");
  std::string error = errorOf({"--config", path});
  EXPECT_THAT(error, HasSubstr(path + ":3:"));

  const std::string unknown = writeConfig("listen: \"127.0.0.1:1\"\nlisten_port: 7\n");
  error = errorOf({"--config", unknown});
  EXPECT_THAT(error, HasSubstr(unknown + ":2:"));
  EXPECT_THAT(error, HasSubstr("listen_port"));
}

TEST_F(ConfigFileTest, UnreadableFile) {
  EXPECT_THAT(errorOf({"--config", "/nonexistent/bindergw.textproto"}),
              HasSubstr("cannot read config file '/nonexistent/bindergw.textproto'"));
}

TEST_F(ConfigFileTest, BadValuesInTheFile) {
  const std::string level = writeConfig("listen: \"127.0.0.1:1\" log_level: \"chatty\"");
  EXPECT_THAT(errorOf({"--config", level}), HasSubstr(level + ": log_level: unknown log level"));
  const std::string layout = writeConfig("listen: \"127.0.0.1:1\" sm_layout: \"99\"");
  EXPECT_THAT(errorOf({"--config", layout}), HasSubstr(layout + ": sm_layout"));
  const std::string keepalive =
      writeConfig("listen: \"127.0.0.1:1\" limits { keepalive_interval_ms: 5 }");
  EXPECT_THAT(errorOf({"--config", keepalive}), HasSubstr("top-level keepalive_interval_ms"));
  const std::string peer = writeConfig("listen: \"127.0.0.1:1\" peer { import: \"x\" }");
  EXPECT_THAT(errorOf({"--config", peer}), HasSubstr("a peer rule needs an address"));
  const std::string peer_address =
      writeConfig("listen: \"127.0.0.1:1\" peer { address: \"a:b:c\" }");
  EXPECT_THAT(errorOf({"--config", peer_address}), HasSubstr("peer address 'a:b:c'"));
}

TEST(GatewayOptionsTest, ApplyConfigTextNamesItsSource) {
  GatewayOptions options;
  absl::Status s = applyConfigText("connect: [", "inline", &options);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("inline:1:"));
  ASSERT_TRUE(applyConfigText("connect: \"127.0.0.1:5\"", "inline", &options).ok());
  EXPECT_THAT(options.connect, ElementsAre("127.0.0.1:5"));
}

// ---- Validation --------------------------------------------------------------------------------

TEST(GatewayOptionsTest, NeedsListenOrConnect) {
  EXPECT_THAT(errorOf({}), HasSubstr("give --listen ADDR and/or --connect ADDR"));
  EXPECT_THAT(errorOf({"--export", "x"}), HasSubstr("nothing to do"));
  EXPECT_TRUE(parse({"--listen", "127.0.0.1:0"}).ok());
  EXPECT_TRUE(parse({"--connect", "127.0.0.1:1"}).ok());
}

TEST(GatewayOptionsTest, AddressesMustParse) {
  struct Case {
    const char* address;
    const char* error;
  };
  const Case kCases[] = {
      {"127.0.0.1", "expected HOST:PORT, [V6]:PORT or unix:/abs/path"},
      {"127.0.0.1:65536", "the port must be a number in 0..65535"},
      {"127.0.0.1:", "the port must be a number in 0..65535"},
      {"127.0.0.1:7x", "the port must be a number in 0..65535"},
      {"127.0.0.1:-1", "the port must be a number in 0..65535"},
      {":7000", "bad host name"},
      {"bad host:7000", "bad host name"},
      {"::1:7000", "an IPv6 address needs brackets"},
      {"[::1:7000", "missing ']'"},
      {"[::1]7000", "expected [V6]:PORT"},
      {"[not-v6]:7000", "not an IPv6 address"},
      {"unix:relative.sock", "a unix: address needs an absolute path"},
      {"unix:", "a unix: address needs an absolute path"},
  };
  for (const Case& c : kCases) {
    EXPECT_THAT(errorOf({"--listen", c.address}),
                HasSubstr(std::string("listen address '") + c.address + "': " + c.error))
        << c.address;
    EXPECT_THAT(errorOf({"--connect", c.address}), HasSubstr(c.error)) << c.address;
  }
  EXPECT_THAT(errorOf({"--connect", "127.0.0.1:0"}), HasSubstr("port 0 is only meaningful"));
  EXPECT_TRUE(parse({"--listen", "127.0.0.1:65535"}).ok());
}

TEST(GatewayOptionsTest, RangeChecks) {
  const std::vector<std::string> base = {"--listen", "127.0.0.1:0"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return errorOf(args);
  };
  EXPECT_THAT(with({"--keepalive-interval-ms", "1000", "--keepalive-timeout-ms", "1000"}),
              HasSubstr("keepalive_timeout_ms (1000) must be greater than keepalive_interval_ms "
                        "(1000)"));
  EXPECT_THAT(with({"--keepalive-interval-ms", "40000"}),
              HasSubstr("keepalive_timeout_ms (30000) must be greater than"));
  EXPECT_THAT(with({"--keepalive-interval-ms", "0"}), HasSubstr("keepalive_interval_ms must be"));
  EXPECT_THAT(with({"--discovery-interval-ms", "0"}), HasSubstr("discovery_interval_ms must be"));
  EXPECT_THAT(with({"--backoff-initial-ms", "0"}), HasSubstr("backoff_initial_ms must be"));
  EXPECT_THAT(with({"--backoff-initial-ms", "10", "--backoff-max-ms", "9"}),
              HasSubstr("backoff_max_ms (9) must not be less than backoff_initial_ms (10)"));
  EXPECT_THAT(with({"--send-queue-bytes", "0"}), HasSubstr("send_queue_bytes must be"));
  EXPECT_THAT(with({"--max-threads", "0"}), HasSubstr("max_threads must be at least 1"));
  EXPECT_THAT(with({"--export", ""}), HasSubstr("empty export glob"));
  EXPECT_THAT(with({"--import", ""}), HasSubstr("empty import glob"));
  // "" = the default (the host name), as an unset field in the file.
  absl::StatusOr<GatewayOptions> o = parse({"--listen", "127.0.0.1:0", "--gateway-id", ""});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->gateway_id, hostName());
}

TEST_F(ConfigFileTest, ReceiveAreaBytes) {
  // Default: the runtime's receive area.
  absl::StatusOr<GatewayOptions> o = parse({"--listen", "127.0.0.1:0"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->receive_area_bytes, 0u);
  EXPECT_EQ(o->processOptions().receive_area_size, runtime::defaultReceiveAreaSize());
  // The flag, the file, and the flag over the file.
  o = parse({"--listen", "127.0.0.1:0", "--receive-area-bytes", "4194304"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->processOptions().receive_area_size, 4194304u);
  const std::string path = writeConfig(R"pb(listen: "127.0.0.1:0" receive_area_bytes: 2097152)pb");
  o = parse({"--config", path});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->receive_area_bytes, 2097152u);
  o = parse({"--config", path, "--receive-area-bytes=65536"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->receive_area_bytes, 65536u);
  // Bounds: whole pages, 64 KiB to the kernel's 4 MiB cap.
  for (const char* bad : {"4194305", "8388608", "61440", "65537"}) {
    EXPECT_THAT(errorOf({"--listen", "127.0.0.1:0", "--receive-area-bytes", bad}),
                HasSubstr("receive_area_bytes"))
        << bad;
  }
  EXPECT_FALSE(
      parse({"--config", writeConfig(R"pb(listen: "127.0.0.1:0" receive_area_bytes: 8388608)pb")})
          .ok());
}

TEST(GatewayOptionsTest, LoopbackAddressesNeedNoInsecure) {
  for (const char* address :
       {"127.0.0.1:7000", "127.1.2.3:7000", "[::1]:7000", "localhost:7000", "LocalHost:7000",
        "unix:/run/bindergw.sock", "[::ffff:127.0.0.1]:1"}) {
    EXPECT_TRUE(parse({"--listen", address}).ok()) << address;
    EXPECT_TRUE(parse({"--connect", address}).ok()) << address;
  }
}

TEST(GatewayOptionsTest, NonLoopbackAddressesNeedInsecure) {
  for (const char* address : {"10.0.0.1:7000", "0.0.0.0:7000", "[::]:7000", "[fd00::1]:7000",
                              "gateway.example:7000", "128.0.0.1:7000"}) {
    EXPECT_THAT(errorOf({"--listen", address}), HasSubstr(kLoopbackInsecureHint)) << address;
    EXPECT_THAT(errorOf({"--connect", address}), HasSubstr(kLoopbackInsecureHint)) << address;
    EXPECT_THAT(errorOf({"--listen", "127.0.0.1:1", "--connect", address}),
                HasSubstr(std::string("connect address '") + address + "'"));
    EXPECT_TRUE(parse({"--listen", address, "--insecure"}).ok()) << address;
    EXPECT_TRUE(parse({"--insecure", "--connect", address}).ok()) << address;
  }
}

TEST_F(ConfigFileTest, InsecureFromTheFile) {
  const std::string path = writeConfig("listen: \"0.0.0.0:7000\" insecure: true");
  EXPECT_TRUE(parse({"--config", path}).ok());
  const std::string secure = writeConfig("listen: \"0.0.0.0:7000\"");
  EXPECT_THAT(errorOf({"--config", secure}), HasSubstr(kLoopbackInsecureHint));
}

TEST(AddressTest, ParsesTheThreeForms) {
  absl::StatusOr<Address> a = parseAddress("host-1.example:80");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, Address::Kind::kHostPort);
  EXPECT_EQ(a->host, "host-1.example");
  EXPECT_EQ(a->port, 80);
  a = parseAddress("[fe80::1]:0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "fe80::1");
  EXPECT_EQ(a->port, 0);
  a = parseAddress("unix:/a/b");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, Address::Kind::kUnix);
  EXPECT_EQ(a->host, "/a/b");
  EXPECT_TRUE(isLoopback(*a));
  EXPECT_FALSE(parseAddress("10.0.0.2").ok());
  a = parseAddress("10.0.0.2", /*allow_bare_host=*/true);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->port_given);
  a = parseAddress("[::1]", /*allow_bare_host=*/true);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->port_given);
  EXPECT_TRUE(isLoopback(*a));
}

// ---- Export / import policy --------------------------------------------------------------------

TEST(ImportPolicyTest, GlobMatching) {
  const std::vector<std::string> globs = {"echo", "android.hardware.*", "vendor/?x", "[ab]c"};
  EXPECT_TRUE(matchesAny(globs, "echo"));
  EXPECT_FALSE(matchesAny(globs, "echo2"));
  EXPECT_TRUE(matchesAny(globs, "android.hardware.light.ILights/default"));  // '*' crosses '/'
  EXPECT_TRUE(matchesAny(globs, "vendor/1x"));
  EXPECT_FALSE(matchesAny(globs, "vendor/12x"));
  EXPECT_TRUE(matchesAny(globs, "bc"));
  EXPECT_FALSE(matchesAny(globs, "cc"));
  EXPECT_FALSE(matchesAny({}, "echo"));
  EXPECT_TRUE(matchesAny({"*"}, "anything.at/all"));
}

TEST(ImportPolicyTest, GatewayInternalServicesNeverMatch) {
  EXPECT_FALSE(matchesAny({"*"}, "netbinder.gateway.control"));
  EXPECT_FALSE(matchesAny({"netbinder.*"}, "netbinder.gateway.x"));
  EXPECT_FALSE(matchesAny({"netbinder.gateway.control"}, "netbinder.gateway.control"));
  EXPECT_TRUE(matchesAny({"netbinder.*"}, "netbinder.example.echo"));
  EXPECT_TRUE(matchesAny({"*"}, "netbinder.gatewayish"));
}

GatewayOptions policyOptions() {
  GatewayOptions o;
  o.import_globs = {"global.*"};
  o.import_prefix = "g/";
  o.peers.push_back({"10.0.0.2:7000", {"b.*"}, "b/"});
  o.peers.push_back({"10.0.0.3", {}, ""});  // any port of .3; prefix "" overrides g/
  o.peers.push_back({"[fd00::4]", {"d.*"}, std::nullopt});  // globs only; global prefix
  return o;
}

TEST(ImportPolicyTest, GlobalPrefixAndGlobs) {
  const GatewayOptions o = policyOptions();
  EXPECT_EQ(importedName(o, "10.0.0.9:7000", "echo"), "g/echo");
  EXPECT_THAT(importGlobsFor(o, "10.0.0.9:7000"), ElementsAre("global.*"));
  EXPECT_TRUE(shouldImport(o, "unix:/run/x", "global.svc"));
  EXPECT_FALSE(shouldImport(o, "unix:/run/x", "b.svc"));
  EXPECT_FALSE(shouldImport(o, "unix:/run/x", "netbinder.gateway.global"));
  GatewayOptions plain;
  EXPECT_EQ(importedName(plain, "127.0.0.1:1", "echo"), "echo");
  EXPECT_THAT(importGlobsFor(plain, "127.0.0.1:1"), IsEmpty());
}

TEST(ImportPolicyTest, PerPeerRules) {
  const GatewayOptions o = policyOptions();
  // Exact address.
  EXPECT_EQ(importedName(o, "10.0.0.2:7000", "echo"), "b/echo");
  EXPECT_THAT(importGlobsFor(o, "10.0.0.2:7000"), ElementsAre("b.*"));
  EXPECT_TRUE(shouldImport(o, "10.0.0.2:7000", "b.svc"));
  EXPECT_FALSE(shouldImport(o, "10.0.0.2:7000", "global.svc"));
  // Another port of .2: the exact rule does not apply.
  EXPECT_EQ(importedName(o, "10.0.0.2:7001", "echo"), "g/echo");
  // Bare host: every port; empty import list falls back to the global globs; prefix "" wins.
  EXPECT_EQ(importedName(o, "10.0.0.3:51234", "echo"), "echo");
  EXPECT_THAT(importGlobsFor(o, "10.0.0.3:51234"), ElementsAre("global.*"));
  // IPv6 bare host; no prefix in the rule: the global one.
  EXPECT_EQ(importedName(o, "[fd00::4]:9", "echo"), "g/echo");
  EXPECT_THAT(importGlobsFor(o, "[fd00::4]:9"), ElementsAre("d.*"));
  EXPECT_EQ(peerRuleFor(o, "10.0.0.5:1"), nullptr);
  ASSERT_NE(peerRuleFor(o, "10.0.0.3:1"), nullptr);
  EXPECT_EQ(peerRuleFor(o, "10.0.0.3:1")->address, "10.0.0.3");
}

TEST_F(ConfigFileTest, PeerRulesFromTheFile) {
  absl::StatusOr<GatewayOptions> o = parse({"--config", writeConfig(kFullConfig)});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(importedName(*o, "127.0.0.1:7001", "only.this"), "c/only.this");
  EXPECT_TRUE(shouldImport(*o, "127.0.0.1:7001", "only.this"));
  EXPECT_FALSE(shouldImport(*o, "127.0.0.1:7001", "b.x"));
  EXPECT_EQ(importedName(*o, "localhost:4000", "b.x"), "b/b.x");
  EXPECT_TRUE(shouldImport(*o, "localhost:4000", "b.x"));
}

TEST(ExampleConfigTest, DeployExampleParsesAndValidates) {
  absl::StatusOr<GatewayOptions> o = parse({"--config", NB_GATEWAY_EXAMPLE_CONFIG});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->gateway_id, "host-a");
  EXPECT_THAT(o->connect, ElementsAre("10.0.0.2:7000"));
  EXPECT_TRUE(o->insecure);
  EXPECT_EQ(importedName(*o, "10.0.0.2:7000", "echo"), "b/echo");
  EXPECT_TRUE(shouldImport(*o, "10.0.0.2:7000", "android.hardware.light.ILights/default"));
  EXPECT_EQ(importedName(*o, "10.0.0.9:7000", "echo"), "remote/echo");
  // Without insecure the example's 10.0.0.x addresses are refused.
  GatewayOptions strict = *o;
  strict.insecure = false;
  EXPECT_THAT(std::string(validateGatewayOptions(strict).message()),
              HasSubstr(kLoopbackInsecureHint));
}

// ---- Presentation ------------------------------------------------------------------------------

TEST_F(ConfigFileTest, DescribeIsOneLine) {
  absl::StatusOr<GatewayOptions> o = parse({"--config", writeConfig(kFullConfig)});
  ASSERT_TRUE(o.ok()) << o.status();
  const std::string line = describeOptions(*o);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_THAT(line, HasSubstr("gateway_id=host-a "));
  EXPECT_THAT(line, HasSubstr("listen=127.0.0.1:7000 "));
  EXPECT_THAT(line, HasSubstr("connect=[127.0.0.1:7001,[::1]:7002] "));
  EXPECT_THAT(line, HasSubstr("export=[echo] "));
  EXPECT_THAT(line, HasSubstr("import_prefix=\"b/\""));
  EXPECT_THAT(line, HasSubstr("127.0.0.1:7001{import=[only.this] import_prefix=\"c/\"}"));
  EXPECT_THAT(line, HasSubstr("insecure=true"));
  EXPECT_THAT(line, HasSubstr("sm_layout=11"));
  EXPECT_THAT(line, HasSubstr("keepalive_interval_ms=200 keepalive_timeout_ms=900"));
  EXPECT_THAT(line, HasSubstr("max_frame_bytes: 1048576"));
}

}  // namespace
}  // namespace nb::gateway
