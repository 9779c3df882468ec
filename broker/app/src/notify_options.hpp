#pragma once

#include "conduit/app/config.hpp"
#include "conduit/notify/webhook.hpp"

namespace conduit::app {

/// The Notifier's options from [notify] and [[notify.webhook]] (already checked by the loader).
notify::NotifierOptions notifierOptions(const Config& config);

}  // namespace conduit::app
