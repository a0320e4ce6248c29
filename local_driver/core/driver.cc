// Driver facade: forwards every file operation to the Context of this device.
#include "local_driver/core/driver.h"

#include <cerrno>

namespace nb::driver {

// Placeholder until context.h lands: every operation fails cleanly.
class Context {};

Driver::Driver(std::string /*context_name*/, Effects& /*effects*/)
    : ctx_(std::make_unique<Context>()) {}
Driver::~Driver() = default;

ProcId Driver::openProcess(ClientIdentity /*identity*/, std::unique_ptr<ClientMemory> /*memory*/) {
  return ProcId{0};
}
int Driver::mmapArea(ProcId, std::span<uint8_t>, uint64_t) { return ENOSYS; }
void Driver::unmapArea(ProcId) {}
IoctlResult Driver::ioctl(ProcId, Tid, uint32_t, std::span<uint8_t>) { return {ENOSYS}; }
WriteReadResult Driver::writeRead(ProcId, Tid, binder_write_read&, std::span<const uint8_t>,
                                  std::span<uint8_t>, bool) {
  return {WriteReadResult::Kind::kDone, ENOSYS, {}};
}
WriteReadResult Driver::resumeRead(ProcId, Tid, binder_write_read&, std::span<uint8_t>, bool) {
  return {WriteReadResult::Kind::kDone, ENOSYS, {}};
}
void Driver::cancelWait(ProcId, Tid) {}
WriteReadResult Driver::fdsInstalled(ProcId, Tid, binder_write_read&, std::span<uint8_t>,
                                     std::span<const int>) {
  return {WriteReadResult::Kind::kDone, ENOSYS, {}};
}
bool Driver::pollReadable(ProcId, Tid) { return false; }
void Driver::flush(ProcId) {}
void Driver::releaseProcess(ProcId) {}
std::string Driver::dumpState() const { return "binder state:\n"; }
std::string Driver::dumpStats() const { return "binder stats:\n"; }
std::string Driver::dumpTransactions() const { return "binder transactions:\n"; }

}  // namespace nb::driver
