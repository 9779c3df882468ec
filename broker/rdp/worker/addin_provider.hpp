#pragma once

namespace conduit::rdp::worker {

/// Registers the worker's FreeRDP addin provider (process-wide; again is harmless): FreeRDP's
/// built-in channels and devices, plus the rdpsnd playback device of AudioChannel and the printer
/// backend of PrinterChannel. Without a provider FreeRDP looks for plugin files, which Debian does
/// not ship.
bool registerAddinProvider();

}  // namespace conduit::rdp::worker
