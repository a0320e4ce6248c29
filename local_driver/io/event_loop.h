// EventLoop: a minimal epoll reactor. One thread calls run(); every callback runs on that thread.
// stop() may be called from any thread (and from a signal handler: it only writes an eventfd).
// Handlers are keyed by a never-reused id, so an event for a handler removed earlier in the same
// epoll batch is dropped rather than delivered to a new owner of the same fd number.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>

namespace nb::driver::io {

class EventLoop {
 public:
  using Callback = std::function<void(uint32_t events)>;
  using HandlerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  bool ok() const { return epoll_fd_ >= 0 && stop_fd_ >= 0; }

  // Watches `fd` (not owned) for `events` (EPOLLIN ...). Returns 0 on failure.
  HandlerId add(int fd, uint32_t events, Callback cb);
  // Stops watching; safe from inside any callback (including the handler's own).
  void remove(HandlerId id);

  // Runs until stop(). Returns 0, or an errno if epoll_wait fails.
  int run();
  void stop();

 private:
  struct Handler {
    int fd;
    Callback cb;
  };
  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  HandlerId next_id_ = 1;
  std::unordered_map<HandlerId, Handler> handlers_;
};

}  // namespace nb::driver::io
