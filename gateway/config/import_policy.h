// Which services bindergw exports and imports, and under which local name: the globs of
// GatewayOptions (options.h) and its per-peer rules. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nb::gateway {

struct GatewayOptions;
struct PeerRule;

// Service names with this prefix are the gateway's internal services: never exported, never
// imported, whatever the globs say.
inline constexpr std::string_view kInternalServicePrefix = "netbinder.gateway.";

// True when `name` matches one of the fnmatch(3) globs (flags 0, no FNM_PATHNAME: '*' also
// matches '/' and '.'). Names starting with kInternalServicePrefix never match.
bool matchesAny(const std::vector<std::string>& globs, std::string_view name);

// The first PeerRule of `options` whose address matches `peer_address`: equal strings, or a rule
// with a bare host ("10.0.0.2", "[fd00::2]") and a peer address "HOST:PORT" with that host
// (case-insensitive). nullptr when none does.
const PeerRule* peerRuleFor(const GatewayOptions& options, std::string_view peer_address);

// The import globs for sessions with `peer_address`: the matching rule's when it has any, else
// GatewayOptions::import_globs.
std::vector<std::string> importGlobsFor(const GatewayOptions& options,
                                        std::string_view peer_address);

// matchesAny(importGlobsFor(options, peer_address), remote_name).
bool shouldImport(const GatewayOptions& options, std::string_view peer_address,
                  std::string_view remote_name);

// The local name of a service imported from `peer_address`: prefix + remote_name, the prefix
// being the matching rule's when it sets one (even ""), else GatewayOptions::import_prefix.
std::string importedName(const GatewayOptions& options, std::string_view peer_address,
                         std::string_view remote_name);

}  // namespace nb::gateway
