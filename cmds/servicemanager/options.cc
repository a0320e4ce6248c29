#include "cmds/servicemanager/options.h"

#include <cctype>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "cmds/servicemanager/service_registry.h"

namespace nb::servicemanager {
namespace {

// (absl::string_view is not std::string_view in this abseil build: std-only helpers.)
std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    size_t at = text.find(sep);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(at + 1);
  }
}

std::string_view strip(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

absl::StatusOr<runtime::ServiceManagerLayout> parseLayout(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (lower == "15r6" || lower == "15-r6" || lower == "android15r6") {
    return runtime::ServiceManagerLayout::kAndroid15;
  }
  for (int r = 1; r <= 5; ++r) {
    if (lower == absl::StrCat("15r", r) || lower == absl::StrCat("android15r", r)) {
      return runtime::ServiceManagerLayout::kAndroid14;
    }
  }
  return runtime::parseServiceManagerLayout(lower);
}

absl::StatusOr<std::set<uid_t>> parseUidList(std::string_view list) {
  std::set<uid_t> uids;
  for (std::string_view part : split(list, ',')) {
    part = strip(part);
    uint32_t uid = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), uid);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allow-add: '", std::string(part), "' is not a uid"));
    }
    uids.insert(static_cast<uid_t>(uid));
  }
  return uids;
}

absl::StatusOr<std::vector<std::string>> parseDeclared(std::string_view text) {
  std::vector<std::string> out;
  int line_no = 0;
  for (std::string_view line : split(text, '\n')) {
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = strip(line);
    if (line.empty()) {
      continue;
    }
    const size_t slash = line.find('/');
    if (!isValidServiceName(line) || slash == 0 || slash == std::string_view::npos ||
        slash + 1 == line.size()) {
      return absl::InvalidArgumentError(absl::StrCat("declared instances line ", line_no, ": '",
                                                     std::string(line), "' is not iface/instance"));
    }
    out.emplace_back(line);
  }
  return out;
}

absl::StatusOr<Options> parseOptions(const std::vector<std::string>& args,
                                     runtime::ServiceManagerLayout default_layout) {
  Options options;
  options.layout = default_layout;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    auto value = [&]() -> absl::StatusOr<std::string> {
      if (inline_value.has_value()) {
        return *inline_value;
      }
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
      }
      return args[++i];
    };
    if (flag == "--layout") {
      absl::StatusOr<std::string> v = value();
      if (!v.ok()) {
        return v.status();
      }
      absl::StatusOr<runtime::ServiceManagerLayout> layout = parseLayout(*v);
      if (!layout.ok()) {
        return layout.status();
      }
      options.layout = *layout;
    } else if (flag == "--legacy") {
      options.layout = runtime::ServiceManagerLayout::kAndroid10;
    } else if (flag == "--declared") {
      absl::StatusOr<std::string> v = value();
      if (!v.ok()) {
        return v.status();
      }
      options.declared_file = *v;
    } else if (flag == "--allow-add") {
      absl::StatusOr<std::string> v = value();
      if (!v.ok()) {
        return v.status();
      }
      absl::StatusOr<std::set<uid_t>> uids = parseUidList(*v);
      if (!uids.ok()) {
        return uids.status();
      }
      options.allow_add = *uids;
    } else if (flag == "--log-level") {
      absl::StatusOr<std::string> v = value();
      if (!v.ok()) {
        return v.status();
      }
      static const std::set<std::string> kLevels = {"trace",   "debug", "info",     "warn",
                                                    "warning", "error", "critical", "off"};
      if (kLevels.count(*v) == 0) {
        return absl::InvalidArgumentError(absl::StrCat("unknown log level '", *v, "'"));
      }
      options.log_level = *v == "warning" ? "warn" : *v;
    } else if (flag == "-h" || flag == "--help") {
      options.help = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown argument '", args[i], "'"));
    }
  }
  return options;
}

const char* usage() {
  return "usage: servicemanager [--device PATH] [--max-threads N]\n"
         "                      [--layout 10|11|12|13|14|15|15r6|16|newest] [--legacy]\n"
         "                      [--declared FILE] [--allow-add UID[,UID...]]\n"
         "                      [--log-level trace|debug|info|warn|error|off]\n"
         "Becomes the Binder context manager (handle 0) and serves IServiceManager.\n";
}

}  // namespace nb::servicemanager
