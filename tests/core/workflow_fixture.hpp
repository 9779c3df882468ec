#pragma once

#include "conduit/core/workflow.hpp"

namespace conduit::test {

using namespace conduit::core;
using namespace std::chrono_literals;

/// A small plant: one vendor, engineers in two groups, one PLC owned by line-3-controls.
struct Plant {
  TimePoint t0 = *parseTime("2026-11-26T08:00:00Z");
  VendorOrg acme{1, "acme", "ops@acme.example", std::nullopt, false};
  User alice = makeUser(10, "alice", {Role::vendor}, {}, 1);
  User erin = makeUser(20, "erin", {Role::engineer}, {"line-3-controls"});
  User ed = makeUser(21, "ed", {Role::engineer}, {"line-3-controls"});
  User sam = makeUser(22, "sam", {Role::engineer}, {"safety"});
  User olga = makeUser(23, "olga", {Role::engineer}, {"line-9"});
  User ann = makeUser(30, "ann", {Role::auditor}, {});
  User root = makeUser(40, "root", {Role::admin}, {});
  Asset plc = makeAsset();

  static User makeUser(std::int64_t id, std::string name, std::set<Role> roles,
                       std::set<std::string> groups, std::optional<std::int64_t> vendor = {}) {
    User u;
    u.id = id;
    u.username = std::move(name);
    u.roles = std::move(roles);
    u.groups = std::move(groups);
    u.vendorId = vendor;
    if (vendor) u.vendorName = "acme";
    return u;
  }

  static Asset makeAsset() {
    Asset a;
    a.id = 100;
    a.name = "plc-17";
    a.ownerGroup = "line-3-controls";
    a.endpoints.push_back(Endpoint{1, Protocol::ssh, "10.0.3.17", 22, "maint", ""});
    a.endpoints.push_back(Endpoint{2, Protocol::modbus, "10.0.3.17", 502, "", ""});
    return a;
  }

  RequestDraft draft(Seconds duration = 2h) const {
    return RequestDraft{{Protocol::ssh}, t0 + 10min, duration, "replace firmware", "CHG-1"};
  }

  AccessRequest pending(const AccessLimits& limits = {}) const {
    auto r = openRequest(alice, &acme, plc, draft(), limits, "test-rule", t0);
    AccessRequest req = r.value();
    req.id = 7;
    return req;
  }
};

}  // namespace conduit::test
