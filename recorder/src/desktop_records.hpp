#pragma once

#include <cstdint>
#include <optional>

#include "conduit/recorder/record.hpp"

namespace conduit::recorder::detail {

// The channels an RDP session records on (broker/rdp/src/rdp_session.cpp): notices on 0 as in
// SSH sessions, the desktop on 2.
inline constexpr std::uint32_t kNoticeChannel = 0;
inline constexpr std::uint32_t kDesktopChannel = 2;

/// A tile or frame end of the desktop channel; nullopt for anything else or a malformed one.
inline std::optional<RdpTile> desktopUpdate(const Record& r) {
  if (r.kind != RecordKind::rdp_update || r.channel != kDesktopChannel) return std::nullopt;
  auto tile = decodeRdpTile(r.payload);
  if (!tile) return std::nullopt;
  const bool frameEnd = tile->width == 0 && tile->height == 0 && tile->format == 0;
  if (frameEnd) {
    if (tile->pixels.size() != 5 || tile->pixels[4] > 1) return std::nullopt;
    return tile;
  }
  const bool knownFormat = tile->format == 1 || tile->format == 2;  // PNG, JPEG
  if (tile->width == 0 || tile->height == 0 || !knownFormat) return std::nullopt;
  return tile;
}

/// True for a frame end (a tile of size 0x0, format 0), false for an image tile.
inline bool isFrameEnd(const RdpTile& t) {
  return t.width == 0;
}

}  // namespace conduit::recorder::detail
