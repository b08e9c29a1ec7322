// OPEx CRM's own script, inlined in every page after its stylesheet (components/styles.py).

// A table cell drawn from a slot template (a link, a badge) is kept from one update to the next.
// NiceGUI (nicegui.js, `renderRecursively`) renders a slot's template as a component it defines anew at
// every render: Vue sees a new component type each time, so every update of a table (a row selected,
// the rows' data, any of its props) threw away every slot cell and built its elements again. `Vue.h` is
// wrapped, once NiceGUI's module script sets the global, to hand Vue one definition per template: Vue
// then updates the cells in place. A slot's definition holds only its template and its `props`
// parameter, so two slots with the same template can share it. The templates are the code's own (with
// their translated labels): the map holds a few dozen at most.
(() => {
  let vue;
  const definitions = new Map();
  Object.defineProperty(globalThis, "Vue", {
    configurable: true,
    get: () => vue,
    set: (module) => {
      const h = module.h;
      vue = {
        ...module,
        h(type, ...rest) {
          if (type?.constructor === Object && typeof type.template === "string" && Object.keys(type).length === 2) {
            const known = definitions.get(type.template);
            if (known) type = known;
            else definitions.set(type.template, type);
          }
          return h(type, ...rest);
        },
      };
    },
  });
})();

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
