#include "gateway/config/import_policy.h"

#include <fnmatch.h>

#include <cctype>

#include "absl/strings/str_cat.h"
#include "gateway/config/address.h"
#include "gateway/config/options.h"

namespace nb::gateway {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

bool matchesAny(const std::vector<std::string>& globs, std::string_view name) {
  if (name.starts_with(kInternalServicePrefix)) {
    return false;
  }
  const std::string subject(name);
  for (const std::string& glob : globs) {
    if (fnmatch(glob.c_str(), subject.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

const PeerRule* peerRuleFor(const GatewayOptions& options, std::string_view peer_address) {
  for (const PeerRule& rule : options.peers) {
    if (rule.address == peer_address) {
      return &rule;
    }
    absl::StatusOr<Address> want = parseAddress(rule.address, /*allow_bare_host=*/true);
    if (!want.ok() || want->port_given) {
      continue;
    }
    absl::StatusOr<Address> have = parseAddress(peer_address, /*allow_bare_host=*/true);
    if (have.ok() && have->kind == Address::Kind::kHostPort &&
        lower(have->host) == lower(want->host)) {
      return &rule;
    }
  }
  return nullptr;
}

std::vector<std::string> importGlobsFor(const GatewayOptions& options,
                                        std::string_view peer_address) {
  const PeerRule* rule = peerRuleFor(options, peer_address);
  if (rule != nullptr && !rule->import.empty()) {
    return rule->import;
  }
  return options.import_globs;
}

bool shouldImport(const GatewayOptions& options, std::string_view peer_address,
                  std::string_view remote_name) {
  return matchesAny(importGlobsFor(options, peer_address), remote_name);
}

std::string importedName(const GatewayOptions& options, std::string_view peer_address,
                         std::string_view remote_name) {
  const PeerRule* rule = peerRuleFor(options, peer_address);
  const std::string& prefix = rule != nullptr && rule->import_prefix.has_value()
                                  ? *rule->import_prefix
                                  : options.import_prefix;
  return absl::StrCat(prefix, std::string(remote_name));
}

}  // namespace nb::gateway
