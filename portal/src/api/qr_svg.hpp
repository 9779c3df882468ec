#pragma once

#include <optional>
#include <string>

namespace conduit::portal {

/// An SVG image of `text` as a QR code (libqrencode, error correction M), black modules on
/// white with a 4-module quiet zone. nullopt if the text does not fit a QR code.
std::optional<std::string> qrSvg(const std::string& text);

}  // namespace conduit::portal
