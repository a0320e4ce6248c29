#include "local_driver/io/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace nb::driver::io {

EventLoop::EventLoop() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ >= 0 && stop_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;  // id 0: the stop eventfd
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &ev);
  }
}

EventLoop::~EventLoop() {
  if (epoll_fd_ >= 0) {
    ::close(epoll_fd_);
  }
  if (stop_fd_ >= 0) {
    ::close(stop_fd_);
  }
}

EventLoop::HandlerId EventLoop::add(int fd, uint32_t events, Callback cb) {
  HandlerId id = next_id_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return 0;
  }
  handlers_.emplace(id, Handler{fd, std::move(cb)});
  return id;
}

void EventLoop::remove(HandlerId id) {
  auto it = handlers_.find(id);
  if (it == handlers_.end()) {
    return;
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  handlers_.erase(it);
}

int EventLoop::run() {
  constexpr int kBatch = 64;
  epoll_event events[kBatch];
  for (;;) {
    int n = ::epoll_wait(epoll_fd_, events, kBatch, -1);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    for (int i = 0; i < n; ++i) {
      HandlerId id = events[i].data.u64;
      if (id == 0) {
        return 0;
      }
      auto it = handlers_.find(id);
      if (it == handlers_.end()) {
        continue;
      }
      // Copy: the callback may remove its own handler.
      Callback cb = it->second.cb;
      cb(events[i].events);
    }
  }
}

void EventLoop::stop() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(stop_fd_, &one, sizeof(one));
}

}  // namespace nb::driver::io
