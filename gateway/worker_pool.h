// WorkerPool: threads for the calls peers make (docs/gateway.md "Threads"). A task runs on an
// idle worker, or on a new one while fewer than `max_threads` exist; otherwise it waits in the
// queue. Workers that finish wait for more work; stop() drains nothing: queued tasks are dropped
// (their sessions are closing anyway) and every worker is joined.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nb::gateway {

class WorkerPool {
 public:
  explicit WorkerPool(size_t max_threads) : max_threads_(max_threads) {}
  ~WorkerPool() { stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False once stopped (the task is dropped).
  bool submit(std::function<void()> task);
  void stop();
  size_t threadCount() const;

 private:
  void run();

  const size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;         // guarded by mu_
  size_t idle_ = 0;                          // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
};

}  // namespace nb::gateway
