// KeyboardEvent.code -> RDP scancode (PC/AT scan code set 1, make codes), for the browser RDP
// page (#/rdp). Extended keys (sent with the 0xE0 prefix on a real keyboard) carry 0x100, as the
// broker's worker protocol expects (broker/rdp worker_protocol.hpp, KeyEvent).
//
// Hand-written: no maintained npm package maps KeyboardEvent.code to RDP scancodes for the
// browser (the RDP web clients that do it, Guacamole and FreeRDP's own, keep private tables), and
// the table is small and fixed. KeyboardEvent.code names the physical key whatever the layout, so
// the remote desktop's own keyboard layout turns scancodes into characters, as with a local
// keyboard. Covers a US 104-key keyboard plus the ISO key beside left Shift. Pause/Break has no
// single scancode (it is an E1 sequence) and is not sent.

const EXTENDED = 0x100;

const TABLE = {
  Escape: 0x01,
  Digit1: 0x02, Digit2: 0x03, Digit3: 0x04, Digit4: 0x05, Digit5: 0x06,
  Digit6: 0x07, Digit7: 0x08, Digit8: 0x09, Digit9: 0x0a, Digit0: 0x0b,
  Minus: 0x0c, Equal: 0x0d, Backspace: 0x0e, Tab: 0x0f,
  KeyQ: 0x10, KeyW: 0x11, KeyE: 0x12, KeyR: 0x13, KeyT: 0x14,
  KeyY: 0x15, KeyU: 0x16, KeyI: 0x17, KeyO: 0x18, KeyP: 0x19,
  BracketLeft: 0x1a, BracketRight: 0x1b, Enter: 0x1c, ControlLeft: 0x1d,
  KeyA: 0x1e, KeyS: 0x1f, KeyD: 0x20, KeyF: 0x21, KeyG: 0x22,
  KeyH: 0x23, KeyJ: 0x24, KeyK: 0x25, KeyL: 0x26,
  Semicolon: 0x27, Quote: 0x28, Backquote: 0x29, ShiftLeft: 0x2a, Backslash: 0x2b,
  KeyZ: 0x2c, KeyX: 0x2d, KeyC: 0x2e, KeyV: 0x2f, KeyB: 0x30, KeyN: 0x31, KeyM: 0x32,
  Comma: 0x33, Period: 0x34, Slash: 0x35, ShiftRight: 0x36,
  NumpadMultiply: 0x37, AltLeft: 0x38, Space: 0x39, CapsLock: 0x3a,
  F1: 0x3b, F2: 0x3c, F3: 0x3d, F4: 0x3e, F5: 0x3f,
  F6: 0x40, F7: 0x41, F8: 0x42, F9: 0x43, F10: 0x44,
  NumLock: 0x45, ScrollLock: 0x46,
  Numpad7: 0x47, Numpad8: 0x48, Numpad9: 0x49, NumpadSubtract: 0x4a,
  Numpad4: 0x4b, Numpad5: 0x4c, Numpad6: 0x4d, NumpadAdd: 0x4e,
  Numpad1: 0x4f, Numpad2: 0x50, Numpad3: 0x51, Numpad0: 0x52, NumpadDecimal: 0x53,
  IntlBackslash: 0x56, F11: 0x57, F12: 0x58,
  // Extended keys.
  NumpadEnter: EXTENDED | 0x1c,
  ControlRight: EXTENDED | 0x1d,
  NumpadDivide: EXTENDED | 0x35,
  PrintScreen: EXTENDED | 0x37,
  AltRight: EXTENDED | 0x38,
  Home: EXTENDED | 0x47,
  ArrowUp: EXTENDED | 0x48,
  PageUp: EXTENDED | 0x49,
  ArrowLeft: EXTENDED | 0x4b,
  ArrowRight: EXTENDED | 0x4d,
  End: EXTENDED | 0x4f,
  ArrowDown: EXTENDED | 0x50,
  PageDown: EXTENDED | 0x51,
  Insert: EXTENDED | 0x52,
  Delete: EXTENDED | 0x53,
  MetaLeft: EXTENDED | 0x5b,
  MetaRight: EXTENDED | 0x5c,
  ContextMenu: EXTENDED | 0x5d,
};
// Older Firefox names for the Windows keys.
TABLE.OSLeft = TABLE.MetaLeft;
TABLE.OSRight = TABLE.MetaRight;

export const RDP_SCANCODES = Object.freeze(TABLE);

/// The RDP scancode for a KeyboardEvent.code, or null for a key the table does not know.
export function scancodeFor(code) {
  return Object.prototype.hasOwnProperty.call(RDP_SCANCODES, code) ? RDP_SCANCODES[code] : null;
}
