// DOM construction without HTML parsing: every piece of server or user text becomes a text node,
// so names, reasons, tickets and audit details are shown literally and can never become markup.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'required', 'selected', 'readOnly', 'open']);

/// Creates an element. `props`: attributes, `class`, `dataset`, `on<event>` listeners and the
/// boolean/value properties above. Children: nodes, strings, numbers, arrays; null/false skipped.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'style' || key === 'innerHTML' || key === 'outerHTML') {
      // style="" is refused by the CSP; innerHTML would parse data as markup.
      throw new Error(`h(): "${key}" is not allowed`);
    }
    if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/// Appends children (same rules as h()) to `parent`.
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/// Replaces all children of `parent`.
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/// Keeps a container's children in step with a list of items, keyed by id, so rows that stay keep
/// their DOM (typed comments, open "Why?" panels, focus) across periodic refreshes.
export class KeyedList {
  /// `create(item)` returns `{el, update(item)}`; `empty` is the node shown for an empty list.
  constructor(container, { key, create, empty }) {
    this.container = container;
    this.key = key;
    this.create = create;
    this.empty = empty;
    this.entries = new Map();
  }

  set(items) {
    const wanted = new Map(items.map((item) => [String(this.key(item)), item]));
    for (const [k, entry] of this.entries) {
      if (!wanted.has(k)) {
        entry.el.remove();
        this.entries.delete(k);
      }
    }
    if (items.length === 0) {
      if (this.empty && this.empty.parentNode !== this.container) this.container.append(this.empty);
      return;
    }
    this.empty?.remove();
    let index = 0;
    for (const [k, item] of wanted) {
      let entry = this.entries.get(k);
      if (!entry) {
        entry = this.create(item);
        this.entries.set(k, entry);
      }
      entry.update?.(item);
      const at = this.container.children[index] ?? null;
      // Move only when out of place: moving a node blurs an input inside it.
      if (at !== entry.el) this.container.insertBefore(entry.el, at);
      index += 1;
    }
  }

  each(fn) {
    for (const entry of this.entries.values()) fn(entry);
  }
}
