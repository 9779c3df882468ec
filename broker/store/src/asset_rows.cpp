// Assets with their endpoints and tags.
#include "conduit/store/access_repository.hpp"
#include "row_helpers.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;
using namespace detail;

core::Result<std::int64_t> AccessRepository::insertAsset(const core::Asset& a,
                                                         core::TimePoint now) {
  auto group = groupByName(a.ownerGroup);
  if (!group) return group.error();
  auto s = db_.prepare(
      "INSERT INTO assets(name, site, zone, criticality, owner_group_id, max_sessions, disabled, "
      "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!s) return s.error();
  s->bind(1, a.name)
      .bind(2, a.site)
      .bind(3, a.zone)
      .bind(4, core::criticalityName(a.criticality))
      .bind(5, group->id)
      .bind(6, std::int64_t{a.maxSessions})
      .bind(7, std::int64_t{a.disabled})
      .bind(8, unix(now));
  if (auto st = s->run(); !st) {
    if (st.error().message.find("UNIQUE") != std::string::npos) {
      return fail(ErrorCode::already_exists, "asset " + a.name + " already exists");
    }
    return fail(st.error().code, "asset " + a.name + ": " + st.error().message);
  }
  const std::int64_t id = db_.lastInsertId();
  auto tag = db_.prepare("INSERT INTO asset_tags(asset_id, tag) VALUES(?1, ?2)");
  if (!tag) return tag.error();
  for (const auto& t : a.tags) {
    tag->reset();
    if (auto st = tag->bind(1, id).bind(2, t).run(); !st) return st.error();
  }
  auto ep = db_.prepare(
      "INSERT INTO endpoints(asset_id, protocol, host, port, account, pinned_key) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!ep) return ep.error();
  for (const auto& e : a.endpoints) {
    ep->reset();
    ep->bind(1, id)
        .bind(2, core::protocolName(e.protocol))
        .bind(3, e.host)
        .bind(4, std::int64_t{e.port})
        .bind(5, e.account)
        .bind(6, e.pinnedKey);
    if (auto st = ep->run(); !st) {
      return fail(st.error().code, "endpoint " + std::string(core::protocolName(e.protocol)) +
                                       " of " + a.name + ": " + st.error().message);
    }
  }
  return id;
}

core::Result<core::Asset> AccessRepository::loadAsset(const char* where, std::int64_t id,
                                                      const std::string& name) {
  auto s = db_.prepare(
      std::string("SELECT a.id, a.name, a.site, a.zone, a.criticality, g.name, a.max_sessions, "
                  "a.disabled FROM assets a JOIN engineer_groups g ON g.id = a.owner_group_id "
                  "WHERE ") +
      where);
  if (!s) return s.error();
  bindIdOrName(*s, id, name);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, describeIdOrName("asset", id, name) + " not found");
  core::Asset a;
  a.id = s->columnInt(0);
  a.name = s->columnText(1);
  a.site = s->columnText(2);
  a.zone = s->columnText(3);
  a.criticality = core::parseCriticality(s->columnText(4)).value_or(core::Criticality::critical);
  a.ownerGroup = s->columnText(5);
  a.maxSessions = static_cast<int>(s->columnInt(6));
  a.disabled = s->columnInt(7) != 0;
  auto tags = db_.prepare("SELECT tag FROM asset_tags WHERE asset_id = ?1");
  if (!tags) return tags.error();
  tags->bind(1, a.id);
  while (true) {
    auto r = tags->step();
    if (!r) return r.error();
    if (!*r) break;
    a.tags.insert(tags->columnText(0));
  }
  auto eps = db_.prepare(
      "SELECT id, protocol, host, port, account, pinned_key FROM endpoints WHERE asset_id = ?1 "
      "ORDER BY id");
  if (!eps) return eps.error();
  eps->bind(1, a.id);
  while (true) {
    auto r = eps->step();
    if (!r) return r.error();
    if (!*r) break;
    core::Endpoint e;
    e.id = eps->columnInt(0);
    e.protocol = core::parseProtocol(eps->columnText(1)).value_or(core::Protocol::tcp);
    e.host = eps->columnText(2);
    e.port = static_cast<std::uint16_t>(eps->columnInt(3));
    e.account = eps->columnText(4);
    e.pinnedKey = eps->columnText(5);
    a.endpoints.push_back(std::move(e));
  }
  return a;
}

core::Result<core::Asset> AccessRepository::asset(std::int64_t id) {
  return loadAsset("a.id = ?1", id, "");
}

core::Result<core::Asset> AccessRepository::assetByName(const std::string& name) {
  if (name.empty()) return fail(ErrorCode::not_found, "asset name is empty");
  return loadAsset("a.name = ?1", 0, name);
}

core::Result<std::vector<core::Asset>> AccessRepository::assets() {
  auto s = db_.prepare("SELECT id FROM assets ORDER BY name");
  if (!s) return s.error();
  return loadEach<core::Asset>(*s, [this](std::int64_t id) { return asset(id); });
}

core::Status AccessRepository::setAssetDisabled(std::int64_t id, bool disabled) {
  auto s = db_.prepare("UPDATE assets SET disabled = ?2 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id).bind(2, std::int64_t{disabled});
  return runOne(db_, *s, "asset " + std::to_string(id));
}

core::Status AccessRepository::setEndpointPinnedKey(std::int64_t endpointId,
                                                    const std::string& pinnedKey) {
  auto s = db_.prepare("UPDATE endpoints SET pinned_key = ?2 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, endpointId).bind(2, pinnedKey);
  return runOne(db_, *s, "endpoint " + std::to_string(endpointId));
}

core::Status AccessRepository::deleteAsset(std::int64_t id) {
  auto s = db_.prepare("DELETE FROM assets WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id);
  auto st = runOne(db_, *s, "asset " + std::to_string(id));
  if (!st && st.error().code == ErrorCode::conflict) {
    return fail(ErrorCode::conflict,
                "asset " + std::to_string(id) + " has requests or grants; disable it instead");
  }
  return st;
}

}  // namespace conduit::store
