// The gRPC floor of the gateway rows: one netbinder.v1.Gateway/Session bidirectional stream,
// ping-pong (Write a Frame carrying a Transaction with N parcel bytes, Read the echo), with the
// channel and server settings bindergw uses (gateway/transport/grpc_options.h). Our own server
// and client, not bindergw: it measures what gRPC costs for the gateway's message shape.
// Both run as `bench --role ...` children of the harness (no gRPC state crosses a fork).
#pragma once

#include "bench/binder_roles.h"

namespace nb::bench {

// --listen ADDR ("127.0.0.1:0" or "unix:/path"); prints "ready PORT" (0 for unix:), serves until
// killed. The sync API: one thread per stream, while Read: Write.
int runGrpcServer(const Flags& flags);

// --connect ADDR --sizes a,b,c --scale X --max-ms N; one rtt line per size.
int runGrpcClient(const Flags& flags);

}  // namespace nb::bench
