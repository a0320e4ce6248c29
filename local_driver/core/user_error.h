// Logging of client mistakes the kernel reports with binder_user_error() (ignored commands,
// failed transactions). Debug level: a misbehaving client must not flood the daemon's log.
#pragma once

#include <spdlog/spdlog.h>

#define NB_BINDER_USER_ERROR(...) ::spdlog::debug(__VA_ARGS__)
