#pragma once

#include "conduit/core/result.hpp"
#include "conduit/notify/notification.hpp"
#include "conduit/store/access_repository.hpp"

namespace conduit::notify {

/// Loads the rows a notification about `subject` needs. Rows that do not exist are left unset
/// (the mapping then yields no notification); other errors (a busy database) are returned so
/// the caller can try again.
core::Result<EventFacts> lookUpFacts(store::AccessRepository& repo, const EventSubject& subject);

}  // namespace conduit::notify
