#include "gateway/transport/send_queue.h"

#include <utility>

namespace nb::gateway::detail {

void SendQueue::push(Lane lane, netbinder::v1::Frame&& frame, size_t bytes) {
  switch (lane) {
    case Lane::kControl:
      ordered_.push_back(Entry{std::move(frame), 0});
      return;
    case Lane::kCall:
      ordered_.push_back(Entry{std::move(frame), bytes});
      break;
    case Lane::kBulk:
      bulk_.push_back(Entry{std::move(frame), bytes});
      break;
  }
  bounded_bytes_ += bytes;
}

void SendQueue::pushUrgent(netbinder::v1::Frame&& frame) {
  urgent_.push_back(Entry{std::move(frame), 0});
}

std::optional<netbinder::v1::Frame> SendQueue::pop() {
  for (auto* lane : {&urgent_, &ordered_, &bulk_}) {
    if (lane->empty()) {
      continue;
    }
    Entry entry = std::move(lane->front());
    lane->pop_front();
    bounded_bytes_ -= entry.bytes;
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
