// Driver facade: every file operation forwards to the Context of this device (context.h).
#include "local_driver/core/driver.h"

#include "local_driver/core/context.h"

namespace nb::driver {

Driver::Driver(std::string context_name, Effects& effects, DriverOptions options)
    : ctx_(std::make_unique<Context>(std::move(context_name), effects, std::move(options))) {}
Driver::~Driver() = default;

ProcId Driver::openProcess(ClientIdentity identity, std::unique_ptr<ClientMemory> memory) {
  return ctx_->openProcess(identity, std::move(memory));
}
int Driver::mmapArea(ProcId proc, std::span<uint8_t> daemon_view, uint64_t user_base) {
  return ctx_->mmapArea(proc, daemon_view, user_base);
}
void Driver::unmapArea(ProcId proc) { ctx_->unmapArea(proc); }
IoctlResult Driver::ioctl(ProcId proc, Tid tid, uint32_t cmd, std::span<uint8_t> arg) {
  return ctx_->ioctl(proc, tid, cmd, arg);
}
WriteReadResult Driver::writeRead(ProcId proc, Tid tid, binder_write_read& bwr,
                                  std::span<const uint8_t> write_bytes, std::span<uint8_t> read_out,
                                  bool nonblock) {
  return ctx_->attachNice(proc, tid,
                          ctx_->writeRead(proc, tid, bwr, write_bytes, read_out, nonblock));
}
WriteReadResult Driver::resumeRead(ProcId proc, Tid tid, binder_write_read& bwr,
                                   std::span<uint8_t> read_out, bool nonblock) {
  return ctx_->attachNice(proc, tid, ctx_->resumeRead(proc, tid, bwr, read_out, nonblock));
}
void Driver::setThreadNice(ProcId proc, Tid tid, int nice) { ctx_->setThreadNice(proc, tid, nice); }
void Driver::cancelWait(ProcId proc, Tid tid) { ctx_->cancelWait(proc, tid); }
WriteReadResult Driver::fdsInstalled(ProcId proc, Tid tid, binder_write_read& bwr,
                                     std::span<uint8_t> read_out, std::span<const int> numbers) {
  return ctx_->attachNice(proc, tid, ctx_->fdsInstalled(proc, tid, bwr, read_out, numbers));
}
bool Driver::pollReadable(ProcId proc, Tid tid) { return ctx_->pollReadable(proc, tid); }
void Driver::flush(ProcId proc) { ctx_->flush(proc); }
void Driver::releaseProcess(ProcId proc) { ctx_->releaseProcess(proc); }
std::string Driver::dumpState() const { return ctx_->dumpState(); }
std::string Driver::dumpStats() const { return ctx_->dumpStats(); }
std::string Driver::dumpTransactions() const { return ctx_->dumpTransactions(); }

}  // namespace nb::driver
