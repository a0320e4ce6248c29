// servicemanager command line (after runtime::parseCommonFlags removed --device, --sm-layout and
// --max-threads):
//
//   --layout 10|11|12|13|14|15|15r6|16|newest   IServiceManager codes/headers to serve (default:
//                                               --sm-layout, else the newest). "15r1".."15r5" =
//                                               14; "15" = "15r6"; 10 = legacy numeric protocol.
//   --legacy                                    = --layout 10
//   --declared FILE                             declared instances, one "iface/instance" a line
//                                               ('#' comments and blank lines ignored)
//   --allow-add UID[,UID...]                    only these calling uids may addService
//   --log-level trace|debug|info|warn|error|off (default info)
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/service_manager_codes.h"

namespace nb::servicemanager {

struct Options {
  runtime::ServiceManagerLayout layout = runtime::kNewestServiceManagerLayout;
  std::optional<std::string> declared_file;
  std::optional<std::set<uid_t>> allow_add;
  std::string log_level = "info";
  bool help = false;
};

// "15r6" etc. on top of runtime::parseServiceManagerLayout.
absl::StatusOr<runtime::ServiceManagerLayout> parseLayout(std::string_view name);
// "1000,2000" → {1000, 2000}; InvalidArgument for an empty list or a non-number.
absl::StatusOr<std::set<uid_t>> parseUidList(std::string_view list);
// The lines of a declared-instances file's text; InvalidArgument (with the line number) for an
// entry that is not "iface/instance" with a valid service name.
absl::StatusOr<std::vector<std::string>> parseDeclared(std::string_view text);

// `args` are the arguments left by parseCommonFlags; `default_layout` its --sm-layout.
absl::StatusOr<Options> parseOptions(const std::vector<std::string>& args,
                                     runtime::ServiceManagerLayout default_layout);

const char* usage();

}  // namespace nb::servicemanager
