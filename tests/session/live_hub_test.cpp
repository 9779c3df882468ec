// LiveHub: terminal sessions replay a backlog to a new viewer; desktop (RDP) sessions send their
// size and ask the session for a keyframe instead.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "conduit/session/live_hub.hpp"

using conduit::session::LiveHub;

namespace {

struct Viewer {
  std::vector<std::string> output, text;
  std::string ended;
  LiveHub::Sink sink() {
    LiveHub::Sink s;
    s.output = [this](std::string_view b) { output.emplace_back(b); };
    s.text = [this](const std::string& t) { text.push_back(t); };
    s.ended = [this](const std::string& r) { ended = r; };
    return s;
  }
};

}  // namespace

TEST_CASE("a terminal session's new viewer gets the backlog, then live output") {
  LiveHub hub(8);
  hub.started("ssh-1");
  hub.publish("ssh-1", "0123456789");
  Viewer v;
  auto sub = hub.subscribe("ssh-1", v.sink());
  REQUIRE(sub);
  CHECK(v.output == std::vector<std::string>{"23456789"});  // the last 8 bytes
  CHECK(v.text.empty());
  hub.publish("ssh-1", "x");
  CHECK(v.output.back() == "x");
  hub.ended("ssh-1", "killed");
  CHECK(v.ended == "killed");
  CHECK_FALSE(hub.subscribe("ssh-1", v.sink()));
}

TEST_CASE("a desktop session's new viewer gets its size and a keyframe is asked for, no backlog") {
  LiveHub hub;
  hub.started("rdp-1");
  int refreshes = 0;
  hub.startedDesktop("rdp-1", R"({"type":"desktop","width":1024,"height":768})",
                     [&] { ++refreshes; });
  hub.publish("rdp-1", "tile before anyone watched");
  Viewer v;
  auto sub = hub.subscribe("rdp-1", v.sink());
  REQUIRE(sub);
  CHECK(v.output.empty());  // a partial screen from the past would be wrong, not useful
  CHECK(v.text == std::vector<std::string>{R"({"type":"desktop","width":1024,"height":768})"});
  CHECK(refreshes == 1);
  hub.publish("rdp-1", "keyframe tile");
  CHECK(v.output == std::vector<std::string>{"keyframe tile"});
  Viewer second;
  auto sub2 = hub.subscribe("rdp-1", second.sink());
  CHECK(refreshes == 2);
  sub.reset();
  sub2.reset();
  hub.publish("rdp-1", "nobody watches");
  CHECK(v.output.size() == 1);
}

TEST_CASE("text published to a live session reaches its current viewers only") {
  LiveHub hub;
  hub.started("rdp-2");
  hub.startedDesktop("rdp-2", R"({"type":"desktop","width":800,"height":600})", [] {});
  hub.publishText("rdp-2", R"({"type":"clipboard","text":"before anyone watched"})");
  Viewer v;
  auto sub = hub.subscribe("rdp-2", v.sink());
  REQUIRE(sub);
  hub.publishText("rdp-2", R"({"type":"clipboard","text":"setpoint 42"})");
  hub.publishText("ssh-9", "a session that is not live");  // ignored
  CHECK(v.text == std::vector<std::string>{R"({"type":"desktop","width":800,"height":600})",
                                           R"({"type":"clipboard","text":"setpoint 42"})"});
  sub.reset();
  hub.publishText("rdp-2", "after the viewer left");
  CHECK(v.text.size() == 2);
}
