#include "runtime/device_flags.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nb::runtime {
namespace {

// If args[*i] is `--name VALUE` or `--name=VALUE`, stores VALUE, erases the flag and returns
// true. *error is set when the value is missing.
bool takeFlag(std::vector<std::string>& args, size_t i, std::string_view name,
              std::optional<std::string>* value, absl::Status* error) {
  const std::string& arg = args[i];
  const std::string flag = absl::StrCat("--", std::string(name));
  if (arg == flag) {
    if (i + 1 >= args.size()) {
      *error = absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
      return true;
    }
    *value = args[i + 1];
    args.erase(args.begin() + static_cast<ptrdiff_t>(i),
               args.begin() + static_cast<ptrdiff_t>(i) + 2);
    return true;
  }
  if (absl::StartsWith(arg, flag + "=")) {
    *value = arg.substr(flag.size() + 1);
    args.erase(args.begin() + static_cast<ptrdiff_t>(i));
    return true;
  }
  return false;
}

}  // namespace

ProcessOptions CommonFlags::processOptions() const {
  ProcessOptions options;
  options.device = deviceSpec();
  options.max_threads = max_threads;
  return options;
}

absl::StatusOr<CommonFlags> parseCommonFlags(std::vector<std::string>& args) {
  CommonFlags flags;
  std::optional<std::string> layout;
  std::optional<std::string> max_threads;
  absl::Status error;
  for (size_t i = 0; i < args.size();) {
    if (args[i] == "--") {
      break;  // the rest belongs to the binary
    }
    if (takeFlag(args, i, "device", &flags.device, &error) ||
        takeFlag(args, i, "sm-layout", &layout, &error) ||
        takeFlag(args, i, "max-threads", &max_threads, &error)) {
      if (!error.ok()) {
        return error;
      }
      continue;
    }
    ++i;
  }
  if (layout.has_value()) {
    absl::StatusOr<ServiceManagerLayout> parsed = parseServiceManagerLayout(*layout);
    if (!parsed.ok()) {
      return parsed.status();
    }
    flags.sm_layout = *parsed;
  }
  if (max_threads.has_value() && !absl::SimpleAtoi(*max_threads, &flags.max_threads)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-threads: bad number '", *max_threads, "'"));
  }
  return flags;
}

absl::StatusOr<CommonFlags> parseCommonFlags(int* argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + *argc);
  std::vector<std::string> before = args;
  absl::StatusOr<CommonFlags> flags = parseCommonFlags(args);
  if (!flags.ok()) {
    return flags;
  }
  // Keep the original char* of each remaining argument, in order.
  int out = 1;
  size_t next = 0;
  for (int in = 1; in < *argc && next < args.size(); ++in) {
    if (args[next] == argv[in]) {
      argv[out++] = argv[in];
      ++next;
    }
  }
  *argc = out;
  argv[out] = nullptr;
  return flags;
}

const char* commonFlagsUsage() {
  return "  --device PATH        binder device: a char device (kernel) or a binderd socket/name\n"
         "                       (default: $NETBINDER_DIR/binder if set, else /dev/binder)\n"
         "  --sm-layout RELEASE  IServiceManager protocol: 10 (legacy), 11..16, newest\n"
         "  --max-threads N      binder looper threads (default 15)\n";
}

}  // namespace nb::runtime
