#include "damage_grid.hpp"

#include <algorithm>
#include <bit>

namespace conduit::rdp::worker {

namespace {
// A cell that changed in at least 5 of the last 8 frames is video-like: JPEG keeps such areas
// small and fast, while text and UI stay lossless PNG.
constexpr int kVideoChanges = 5;
constexpr int kJpegShare = 2;  // JPEG when more than half of a block's changed cells are video
}  // namespace

DamageGrid::DamageGrid(int width, int height)
    : width_(width),
      height_(height),
      cols_((width + kCell - 1) / kCell),
      rows_((height + kCell - 1) / kCell),
      dirty_(static_cast<std::size_t>(cols_ * rows_), 0),
      history_(dirty_.size(), 0) {}

void DamageGrid::add(const Rect& rect) {
  const int x0 = std::max(rect.x, 0);
  const int y0 = std::max(rect.y, 0);
  const int x1 = std::min(rect.x + rect.width, width_);
  const int y1 = std::min(rect.y + rect.height, height_);
  if (x0 >= x1 || y0 >= y1) return;
  for (int row = y0 / kCell; row <= (y1 - 1) / kCell; ++row) {
    for (int col = x0 / kCell; col <= (x1 - 1) / kCell; ++col) {
      auto& cell = dirty_[static_cast<std::size_t>(row * cols_ + col)];
      if (cell == 0) ++dirtyCount_;
      cell = 1;
    }
  }
}

void DamageGrid::addAll() {
  add(Rect{0, 0, width_, height_});
}

std::vector<TilePlan> DamageGrid::take(bool keyframe) {
  if (keyframe) {
    addAll();
  } else {
    for (std::size_t i = 0; i < dirty_.size(); ++i)
      history_[i] = static_cast<std::uint8_t>((history_[i] << 1) | dirty_[i]);
  }
  std::vector<TilePlan> tiles;
  for (int blockRow = 0; blockRow < rows_; blockRow += kBlockCells) {
    for (int blockCol = 0; blockCol < cols_; blockCol += kBlockCells) {
      int minCol = cols_, minRow = rows_, maxCol = -1, maxRow = -1;
      int changed = 0, video = 0;
      for (int row = blockRow; row < std::min(blockRow + kBlockCells, rows_); ++row) {
        for (int col = blockCol; col < std::min(blockCol + kBlockCells, cols_); ++col) {
          const auto i = static_cast<std::size_t>(row * cols_ + col);
          if (dirty_[i] == 0) continue;
          ++changed;
          if (std::popcount(history_[i]) >= kVideoChanges) ++video;
          minCol = std::min(minCol, col);
          maxCol = std::max(maxCol, col);
          minRow = std::min(minRow, row);
          maxRow = std::max(maxRow, row);
        }
      }
      if (changed == 0) continue;
      const int x = minCol * kCell;
      const int y = minRow * kCell;
      const Rect rect{x, y, std::min((maxCol + 1) * kCell, width_) - x,
                      std::min((maxRow + 1) * kCell, height_) - y};
      tiles.push_back(TilePlan{rect, !keyframe && video * kJpegShare > changed});
    }
  }
  std::fill(dirty_.begin(), dirty_.end(), std::uint8_t{0});
  dirtyCount_ = 0;
  return tiles;
}

}  // namespace conduit::rdp::worker
