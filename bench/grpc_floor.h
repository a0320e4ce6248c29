// The gRPC floors of the gateway rows: one netbinder.v1.Gateway/Session bidirectional stream with
// the channel and server settings bindergw uses (gateway/transport/grpc_options.h). Our own server
// and client, not bindergw: it measures what gRPC costs for the gateway's message shape.
//   ping-pong:  Write a Frame carrying a Transaction with N parcel bytes (code 1), Read the echo;
//   bandwidth:  Write C such frames back to back with code 2 (the server only counts them), then
//               one with code 3, which the server answers once it has read everything before it:
//               one-direction streaming, gRPC's flow control is the window.
// Both run as `bench --role ...` children of the harness (no gRPC state crosses a fork).
#pragma once

#include "bench/binder_roles.h"

namespace nb::bench {

// --listen ADDR ("127.0.0.1:0" or "unix:/path"); prints "ready PORT" (0 for unix:), serves until
// killed. The sync API: one thread per stream, while Read: Write.
int runGrpcServer(const Flags& flags);

// --connect ADDR --sizes a,b,c --scale X --max-ms N; one rtt line per size.
// --connect ADDR --mode stream --size N --count C: C frames of N bytes one way after C/8 (at
// least 2) warm-up frames; one rate line (MB/s = N x C / time from the first timed Write to the
// server's answer to the end frame).
int runGrpcClient(const Flags& flags);

}  // namespace nb::bench
