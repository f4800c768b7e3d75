/** A small element builder: the page has no framework (a gateway serves every byte of it). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === "class") element.className = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(child);
  }
  return element;
}

/** The element with this id, which the page must have. */
export function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`dashboard: no #${id} on the page`);
  return element;
}

/** Shows the live stream's state in the header, in words (never colour alone). */
export function setStreamState(state: "live" | "reconnecting" | "connecting"): void {
  const element = byId("stream-state");
  element.textContent =
    state === "live" ? "● live" : state === "reconnecting" ? "○ reconnecting…" : "○ connecting…";
  element.dataset.state = state;
}
