#pragma once

#include <cstdint>
#include <vector>

#include "tile_encoder.hpp"

namespace conduit::rdp::worker {

/// One tile to send: where, and whether to encode it as JPEG (a video-like area) or PNG.
struct TilePlan {
  Rect rect;
  bool jpeg = false;
};

/// The changed area of the desktop since the last frame, on a grid of 64x64 cells, plus how
/// often each cell changed recently. Changes keep merging in while the broker is behind, so a
/// slow browser gets fewer, fresher frames instead of a queue.
class DamageGrid {
 public:
  static constexpr int kCell = 64;
  // 256x256: the largest tile (protocol limit); 4x4 cells.
  static constexpr int kBlockCells = 4;

  DamageGrid(int width, int height);

  /// Marks a rectangle (clipped to the desktop) as changed.
  void add(const Rect& rect);
  /// Marks the whole desktop as changed.
  void addAll();
  bool empty() const noexcept { return dirtyCount_ == 0; }

  /// The tiles covering every changed cell (at most 256x256 each), and clears the damage.
  /// `keyframe`: every block is sent whole, and the change history is left alone (a keyframe
  /// is not motion).
  std::vector<TilePlan> take(bool keyframe);

 private:
  int width_;
  int height_;
  int cols_;
  int rows_;
  std::vector<std::uint8_t> dirty_;
  // Bit i: the cell changed in the i-th most recent frame.
  std::vector<std::uint8_t> history_;
  std::size_t dirtyCount_ = 0;
};

}  // namespace conduit::rdp::worker
