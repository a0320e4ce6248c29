// WorkerPool (gateway/worker_pool.h): tasks run, the pool grows to max_threads and no further
// (the rest queue), stop() joins the workers and drops queued tasks, submit after stop is refused.
// No sleeps as assertions: tasks block on a Gate and the test waits on condition variables with
// generous deadlines.
#include "gateway/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace nb::gateway {
namespace {

constexpr std::chrono::seconds kDeadline{30};

// A counter that tests can wait on, and a gate that blocked tasks wait behind.
class Tracker {
 public:
  void started() {
    std::lock_guard lock(mu_);
    ++started_;
    cv_.notify_all();
  }
  void finished() {
    std::lock_guard lock(mu_);
    ++finished_;
    cv_.notify_all();
  }
  // Blocks the calling task until open() (bounded by the deadline so a bug cannot hang the test).
  void waitForGate() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kDeadline, [this] { return open_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool waitStarted(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return started_ >= n; });
  }
  bool waitFinished(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return finished_ >= n; });
  }
  int startedCount() {
    std::lock_guard lock(mu_);
    return started_;
  }
  int finishedCount() {
    std::lock_guard lock(mu_);
    return finished_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  int finished_ = 0;
  bool open_ = false;
};

std::function<void()> blockingTask(Tracker& tracker) {
  return [&tracker] {
    tracker.started();
    tracker.waitForGate();
    tracker.finished();
  };
}

std::function<void()> countingTask(Tracker& tracker) {
  return [&tracker] {
    tracker.started();
    tracker.finished();
  };
}

TEST(WorkerPoolTest, NoThreadsUntilTheFirstTask) {
  WorkerPool pool(4);
  EXPECT_EQ(pool.threadCount(), 0u);
}

TEST(WorkerPoolTest, RunsTasks) {
  Tracker tracker;
  WorkerPool pool(2);
  constexpr int kTasks = 100;
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(pool.submit(countingTask(tracker)));
  }
  ASSERT_TRUE(tracker.waitFinished(kTasks));
  EXPECT_EQ(tracker.finishedCount(), kTasks);
  EXPECT_GE(pool.threadCount(), 1u);
  EXPECT_LE(pool.threadCount(), 2u);
}

TEST(WorkerPoolTest, RunsTasksOnWorkerThreads) {
  WorkerPool pool(1);
  std::mutex mu;
  std::condition_variable cv;
  std::thread::id ran_on;
  bool done = false;
  ASSERT_TRUE(pool.submit([&] {
    std::lock_guard lock(mu);
    ran_on = std::this_thread::get_id();
    done = true;
    cv.notify_all();
  }));
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return done; }));
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(WorkerPoolTest, AnIdleWorkerIsReused) {
  Tracker tracker;
  WorkerPool pool(4);
  // One at a time: each task finishes before the next is submitted, so the single worker, idle
  // again, takes every one (a worker counts as idle only once it waits, hence waiting for it).
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(pool.submit(countingTask(tracker)));
    ASSERT_TRUE(tracker.waitFinished(i));
  }
  EXPECT_GE(pool.threadCount(), 1u);
  EXPECT_LE(pool.threadCount(), 4u);
}

TEST(WorkerPoolTest, GrowsToMaxThreadsAndQueuesTheRest) {
  Tracker tracker;
  constexpr int kMax = 3;
  WorkerPool pool(kMax);
  for (int i = 0; i < kMax; ++i) {
    ASSERT_TRUE(pool.submit(blockingTask(tracker)));
  }
  // Every blocking task runs at once: one thread each.
  ASSERT_TRUE(tracker.waitStarted(kMax));
  EXPECT_EQ(pool.threadCount(), static_cast<size_t>(kMax));

  // More work while all workers are busy: queued, no new thread.
  constexpr int kQueued = 5;
  for (int i = 0; i < kQueued; ++i) {
    ASSERT_TRUE(pool.submit(blockingTask(tracker)));
  }
  EXPECT_EQ(pool.threadCount(), static_cast<size_t>(kMax));
  // All workers are blocked, so no queued task can have started.
  EXPECT_EQ(tracker.startedCount(), kMax);
  EXPECT_EQ(tracker.finishedCount(), 0);

  tracker.open();
  ASSERT_TRUE(tracker.waitFinished(kMax + kQueued));
  EXPECT_EQ(tracker.startedCount(), kMax + kQueued);
  EXPECT_EQ(pool.threadCount(), static_cast<size_t>(kMax));
}

TEST(WorkerPoolTest, SingleThreadRunsQueuedTasksInOrder) {
  WorkerPool pool(1);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  constexpr int kTasks = 50;
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(pool.submit([&, i] {
      std::lock_guard lock(mu);
      order.push_back(i);
      cv.notify_all();
    }));
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return order.size() == kTasks; }));
  for (int i = 0; i < kTasks; ++i) {
    EXPECT_EQ(order[i], i);
  }
  EXPECT_EQ(pool.threadCount(), 1u);
}

TEST(WorkerPoolTest, SubmitAfterStopIsRefused) {
  Tracker tracker;
  WorkerPool pool(2);
  ASSERT_TRUE(pool.submit(countingTask(tracker)));
  ASSERT_TRUE(tracker.waitFinished(1));
  pool.stop();
  EXPECT_EQ(pool.threadCount(), 0u);
  EXPECT_FALSE(pool.submit(countingTask(tracker)));
  EXPECT_EQ(pool.threadCount(), 0u);
  EXPECT_EQ(tracker.startedCount(), 1);
}

TEST(WorkerPoolTest, StopWithoutTasksAndTwice) {
  WorkerPool pool(2);
  pool.stop();
  pool.stop();
  EXPECT_FALSE(pool.submit([] {}));
  EXPECT_EQ(pool.threadCount(), 0u);
}

TEST(WorkerPoolTest, StopJoinsRunningTasksAndDropsQueuedOnes) {
  Tracker tracker;
  WorkerPool pool(1);
  ASSERT_TRUE(pool.submit(blockingTask(tracker)));
  ASSERT_TRUE(tracker.waitStarted(1));

  // Queued behind the blocked worker; their captures must be destroyed, never run.
  auto token = std::make_shared<int>(0);
  std::atomic<int> queued_ran{0};
  constexpr int kQueued = 4;
  for (int i = 0; i < kQueued; ++i) {
    ASSERT_TRUE(pool.submit([token, &queued_ran] { ++queued_ran; }));
  }
  EXPECT_EQ(token.use_count(), 1 + kQueued);

  std::atomic<bool> stop_returned{false};
  std::thread stopper([&] {
    pool.stop();
    stop_returned = true;
  });
  // Once submit is refused, stop() has marked the pool stopping and taken the queue.
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (pool.submit([] {}) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_FALSE(pool.submit([] {}));
  // stop() is joining the worker, which is still blocked in its task.
  EXPECT_EQ(tracker.finishedCount(), 0);

  tracker.open();
  stopper.join();
  EXPECT_TRUE(stop_returned);
  // The running task completed; the queued ones were dropped (and destroyed).
  EXPECT_EQ(tracker.finishedCount(), 1);
  EXPECT_EQ(queued_ran.load(), 0);
  EXPECT_EQ(token.use_count(), 1);
  EXPECT_EQ(pool.threadCount(), 0u);
}

TEST(WorkerPoolTest, DestructorStopsAndJoins) {
  Tracker tracker;
  {
    WorkerPool pool(3);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(pool.submit(blockingTask(tracker)));
    }
    ASSERT_TRUE(tracker.waitStarted(3));
    tracker.open();
  }  // ~WorkerPool joins: every running task has finished by now.
  EXPECT_EQ(tracker.finishedCount(), 3);
}

TEST(WorkerPoolTest, ManyProducers) {
  Tracker tracker;
  WorkerPool pool(4);
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 250;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < kPerProducer; ++i) {
        EXPECT_TRUE(pool.submit(countingTask(tracker)));
      }
    });
  }
  for (std::thread& producer : producers) {
    producer.join();
  }
  ASSERT_TRUE(tracker.waitFinished(kProducers * kPerProducer));
  EXPECT_EQ(tracker.finishedCount(), kProducers * kPerProducer);
  EXPECT_LE(pool.threadCount(), 4u);
}

}  // namespace
}  // namespace nb::gateway
