// The gateway memory row's peers: one process holding P light gateway peers, each a raw
// netbinder.v1.Gateway/Session stream (its own gRPC channel, so its own TCP connection) that does
// the Hello handshake (docs/protocol.md §2) and then answers only what an importing bindergw asks
// of it: the root's kRootList (its current names) and kRootGet (a SENDER_EXPORT reference, one
// owner key per peer, so that the importer opens one local binder connection per peer), Pings,
// and any other sync call with an empty OK reply. RefCount / ExportRelease are ignored: the peer
// never erases an export.
//
// The measured bindergw listens and imports "fake*" from every session. The role itself drives
// the sequence and samples the gateway's RSS (RssAnon + RssFile + RssShmem of --gateway-pid)
// after each step, once every peer's names are imported (a peer counts as imported when a
// kRootList arrives after it has served kRootGet for every name it exports: the importer's
// discovery loop registers a peer's names in order, then lists again):
//
//   phase "peers":   peers are added in --points steps up to --peers, each exporting 1 name
//   phase "proxies": every peer's list grows in --points steps up to --proxies names
//
// and prints one line per sample, "mem PHASE PEERS PROXIES RSS_KIB", then "done". A step that
// is not imported within --step-timeout-ms (300000) ends the role with exit status 1.
#pragma once

#include "bench/binder_roles.h"

namespace nb::bench {

// --connect ADDR --gateway-pid PID --peers P --proxies M --points K [--step-timeout-ms N]
int runFakePeers(const Flags& flags);

}  // namespace nb::bench
