// Process: one open of the device (kernel struct binder_proc; Rust process.rs): its threads, owned
// nodes, handle table, work lists, receive area and thread-pool counters.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "local_driver/core/buffer_allocator.h"
#include "local_driver/core/driver.h"
#include "local_driver/core/handle_table.h"
#include "local_driver/core/node.h"
#include "local_driver/core/stats.h"
#include "local_driver/core/thread.h"
#include "local_driver/core/transaction.h"
#include "local_driver/core/work_item.h"

namespace nb::driver {

struct Process {
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  ProcId id{};
  ClientIdentity identity;
  std::unique_ptr<ClientMemory> memory;
  uint64_t debug_id = 0;

  std::map<Tid, std::unique_ptr<Thread>> threads;
  std::map<uint64_t, std::unique_ptr<Node>> nodes;  // owned nodes by ptr (ordered: DEBUG_INFO)
  HandleTable refs;
  std::unordered_map<Death*, std::unique_ptr<Death>> deaths;  // every Death this process made

  WorkList todo;             // process work (any thread available for it may take it)
  WorkList delivered_death;  // BR_DEAD_BINDER read, BC_DEAD_BINDER_DONE not yet received
  // Threads parked in a read that may take process work; the most recent waiter is chosen first.
  std::vector<Thread*> waiting_threads;

  uint32_t max_threads = 0;
  uint32_t requested_threads = 0;
  uint32_t requested_threads_started = 0;
  bool is_dead = false;
  bool is_frozen = false;
  bool sync_recv = false;
  bool async_recv = false;
  int outstanding_txns = 0;
  bool oneway_spam_detection_enabled = false;

  // Receive area: the daemon's view; `mapped` false before mmap and after munmap (=> ESRCH).
  std::span<uint8_t> area;
  uint64_t user_base = 0;
  bool mapped = false;
  bool ever_mapped = false;
  BufferAllocator alloc;
  std::map<uint64_t, Buffer*> buffers;               // allocated buffers by area offset
  std::vector<std::unique_ptr<Buffer>> buffer_pool;  // owns every Buffer (live and free)
  std::vector<Buffer*> free_buffers;

  // Scratch vectors reused across transactions to avoid per-call allocation.
  std::vector<uint8_t> scratch_offsets;
  Stats stats;
};

}  // namespace nb::driver
