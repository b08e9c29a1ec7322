// OPEx CRM's own script, inlined in every page after its stylesheet (components/styles.py).

// The navigation drawer (components/shell.py, components/opex.css). It sits beside the content on a
// wide screen and opens over it on a narrow one; the body's class `opex-drawer-toggled` means it is
// not in its default state for the width: closed on a wide screen, open on a narrow one.
window.opexDrawer = (() => {
  const narrow = window.matchMedia("(max-width: 1023.98px)");
  const classes = () => document.body.classList;
  const button = () => document.querySelector('[aria-controls="opex-drawer"]');
  const sync = () => {
    const open = narrow.matches === classes().contains("opex-drawer-toggled");
    button()?.setAttribute("aria-expanded", String(open));
  };
  // Crossing the breakpoint starts again from the new width's default.
  narrow.addEventListener("change", () => { classes().remove("opex-drawer-toggled"); sync(); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") opexDrawer.close();
  });
  // NiceGUI's module script has mounted the page by then.
  document.addEventListener("DOMContentLoaded", () => {
    sync();
    // The header wraps to more lines on a narrow screen: the content and the drawer start below it.
    const header = document.querySelector(".opex-header");
    if (!header) return;
    const root = document.documentElement.style;
    new ResizeObserver(() => {
      const height = `${header.offsetHeight}px`;
      if (root.getPropertyValue("--opex-header-height") !== height) root.setProperty("--opex-header-height", height);
    }).observe(header);
  });
  return {
    toggle() { classes().toggle("opex-drawer-toggled"); sync(); },
    // Closes the drawer where it covers the content: after a link is followed, on the backdrop, on Escape.
    close() {
      if (!narrow.matches || !classes().contains("opex-drawer-toggled")) return;
      const hadFocus = document.getElementById("opex-drawer")?.contains(document.activeElement);
      classes().remove("opex-drawer-toggled");
      sync();
      if (hadFocus) button()?.focus();  // not lost to the body with the drawer it was in
    },
  };
})();

// The header's search box (components/global_search.py): `/` outside a field, or Ctrl+K (⌘K) anywhere,
// focuses it. Caught here, in the page: the browser's own use of the keys does not follow (Ctrl+K
// would take the focus to its address bar, `/` to its quick find), and no keystroke goes to the server.
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.isComposing) return;
  const target = event.target instanceof Element ? event.target : null;
  const editing = target?.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']");
  const slash = event.key === "/" && !editing && !event.ctrlKey && !event.metaKey;
  const ctrlK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k";
  const box = (slash || ctrlK) && document.querySelector("input[data-opex-search], [data-opex-search] input");
  if (!box) return;
  event.preventDefault();
  box.focus();
  box.select();
});
