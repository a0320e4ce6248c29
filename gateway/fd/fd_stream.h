// FdStream: one byte stream standing in for a pipe or a stream socket across a gateway link
// (docs/protocol.md §8.2, proto/netbinder/v1/fd.proto FdStreamOpen / FdStreamChunk). Each side of
// the link holds one FdStream around its local fd:
//
//   * the side that *passed* the fd holds the original (a dup of it);
//   * the side that *received* it made a new pipe or socketpair, gave one end to its local
//     process, and holds the other end.
//
// Directions: data read from the local fd is sent to the peer as FdStreamChunk.data, within the
// credit the peer granted (initial window + every `credit` received); data received from the peer
// is written to the local fd, and credit is granted back as the local fd drains it — so memory is
// bounded by the window in both directions, whatever the transfer size. EOF on the local fd
// (read returns 0) → a chunk with eof; eof from the peer → the local write side is closed (pipe:
// close the write end; socket: shutdown(SHUT_WR)). A local error (EPIPE on write, ECONNRESET...)
// or close() → a chunk with reset (+ errno); reset from the peer → the local fd is closed. The
// stream is finished when both directions saw eof, or on a reset; then its fd is closed and
// onFinished runs once.
//
// Threads: the FdStream owns its I/O (a thread, or threads, using poll on the non-blocking local
// fd plus a wake-up eventfd so that close() never waits on a blocking read/write). All callbacks
// run on those threads. onChunk (peer → local) never blocks: it only queues bytes (within the
// window it granted, else it reports a protocol violation) and wakes the writer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/fd/fd_objects.h"
#include "proto/netbinder/v1/fd.pb.h"

namespace nb::gateway {

enum class StreamDirection : uint8_t {
  kLocalToPeer,  // we only read the local fd (a pipe read end we were given / the read end of our
                 // new pipe...); the peer→local direction starts at eof
  kPeerToLocal,  // we only write the local fd
  kBoth,         // a stream socket
};

struct FdStreamOptions {
  uint64_t stream_id = 0;
  StreamDirection direction = StreamDirection::kBoth;
  // Credit the peer starts with for sending to us, and that we start with for sending to it
  // (Limits.fd_stream_initial_window of the respective receiver).
  uint64_t window_to_local = 256 * 1024;
  uint64_t window_to_peer = 256 * 1024;
  size_t max_chunk_bytes = 64 * 1024;  // data bytes per FdStreamChunk
  // Sends one chunk to the peer; returns false if the session is gone (the stream then resets
  // itself locally). Called from the stream's threads; may block (bounded send queue).
  std::function<bool(netbinder::v1::FdStreamChunk&& chunk)> send;
  // Runs once when the stream is over (both eofs, a reset either way, or close()).
  std::function<void(uint64_t stream_id)> on_finished;
};

class FdStream {
 public:
  // Takes the local fd (made non-blocking here) and starts the stream's threads.
  static absl::StatusOr<std::unique_ptr<FdStream>> start(UniqueFd local, FdStreamOptions options);
  // close(/*notify_peer=*/false), then joins the thread (so `send` must return, e.g. false once
  // the session is gone). May run inside on_finished (the thread is then detached; on_finished
  // is the last callback).
  ~FdStream();
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  // A chunk from the peer. InvalidArgument (→ the session's fatal FD_STREAM) for data beyond the
  // credit we granted, data after the peer's eof, or data for a direction this stream does not
  // have; never blocks.
  absl::Status onChunk(const netbinder::v1::FdStreamChunk& chunk);
  // Aborts both directions (session teardown, peer gone): the local fd is closed at once (the
  // local process sees EOF/EPIPE), a reset is sent if `notify_peer`. Idempotent, bounded.
  void close(bool notify_peer);
  bool finished() const;
  uint64_t id() const;
  // Bytes currently buffered towards the local fd (≤ the granted window), for tests/limits.
  uint64_t bufferedToLocal() const;

 private:
  FdStream() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nb::gateway
