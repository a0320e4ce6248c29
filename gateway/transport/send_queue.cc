#include "gateway/transport/send_queue.h"

#include <utility>

namespace nb::gateway::detail {

void SendQueue::push(Lane lane, netbinder::v1::Frame&& frame, size_t bytes) {
  switch (lane) {
    case Lane::kControl:
      control_.push_back(Entry{std::move(frame), bytes});
      return;
    case Lane::kCall:
      call_.push_back(Entry{std::move(frame), bytes});
      break;
    case Lane::kBulk:
      bulk_.push_back(Entry{std::move(frame), bytes});
      break;
  }
  bounded_bytes_ += bytes;
}

std::optional<netbinder::v1::Frame> SendQueue::pop() {
  for (auto* lane : {&control_, &call_, &bulk_}) {
    if (lane->empty()) {
      continue;
    }
    Entry entry = std::move(lane->front());
    lane->pop_front();
    if (lane != &control_) {
      bounded_bytes_ -= entry.bytes;
    }
    return std::move(entry.frame);
  }
  return std::nullopt;
}

SendQueue SendQueue::takeAll() {
  SendQueue out;
  std::swap(out, *this);
  return out;
}

}  // namespace nb::gateway::detail
