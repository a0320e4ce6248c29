#include "gateway/worker_pool.h"

namespace nb::gateway {

bool WorkerPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return false;
    }
    queue_.push_back(std::move(task));
    if (idle_ < queue_.size() && threads_.size() < max_threads_) {
      threads_.emplace_back([this] { run(); });
      return true;
    }
  }
  // After unlocking: a worker woken under the lock would block on it at once.
  cv_.notify_one();
  return true;
}

void WorkerPool::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (stopping_) {
      return;
    }
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // destroy captures outside the lock
    lock.lock();
  }
}

void WorkerPool::stop() {
  std::vector<std::thread> threads;
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (std::thread& thread : threads) {
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();  // stop() from a worker: it exits when its task returns
    } else {
      thread.join();
    }
  }
}

size_t WorkerPool::threadCount() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

}  // namespace nb::gateway
