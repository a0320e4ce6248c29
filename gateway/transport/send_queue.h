// SendQueue: the three lanes of frames a link has accepted but not yet written (link.h, Lane).
// A plain data structure: GrpcLink guards it with its own mutex and does the blocking.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>

#include "gateway/transport/link.h"

namespace nb::gateway::detail {

class SendQueue {
 public:
  void push(Lane lane, netbinder::v1::Frame&& frame, size_t bytes);
  // The link's own urgent frames (Ping, Pong, Error): ahead of everything.
  void pushUrgent(netbinder::v1::Frame&& frame);
  // Next frame to write: urgent first, then the ordered kControl/kCall FIFO, then kBulk. kControl
  // and kCall frames keep their relative order (the protocol's table changes depend on it, e.g. a
  // DeathNotice after the Reply that carried the reference); kControl frames only skip the byte
  // bound. Strict priority is what keeps a waiting kCall frame from ever waiting behind more than
  // the one kBulk frame already being written.
  std::optional<netbinder::v1::Frame> pop();
  bool empty() const { return urgent_.empty() && ordered_.empty() && bulk_.empty(); }
  // Bytes in the kCall and kBulk lanes: the ones LocalEndpoint::send_queue_bytes bounds.
  size_t boundedBytes() const { return bounded_bytes_; }
  // Whether a kCall/kBulk frame of `bytes` may be queued now without passing `limit`. A frame
  // larger than the limit is admitted when the bounded lanes are empty.
  bool admits(size_t bytes, size_t limit) const {
    return bounded_bytes_ == 0 || bounded_bytes_ + bytes <= limit;
  }
  // Moves everything out (the caller destroys it outside its lock).
  SendQueue takeAll();

 private:
  struct Entry {
    netbinder::v1::Frame frame;
    size_t bytes = 0;  // counted in bounded_bytes_ (0 for kControl and urgent frames)
  };
  std::deque<Entry> urgent_;
  std::deque<Entry> ordered_;  // kControl + kCall
  std::deque<Entry> bulk_;
  size_t bounded_bytes_ = 0;
};

}  // namespace nb::gateway::detail
