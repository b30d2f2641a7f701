/* Riposte sandbox: a Teams-like channel page and an Adaptive Card (1.5) renderer.
 * Cards carry attacker-controlled strings (alert titles, rule names), so nothing here uses innerHTML:
 * every piece of text goes through textContent and every URL through safeUrl(). */
"use strict";

(function () {
  // ---------------------------------------------------------------- small DOM helpers

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = String(value);
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else if (value === true) node.setAttribute(key, "");
        else node.setAttribute(key, String(value));
      }
    }
    for (const child of children || []) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function safeUrl(url) {
    if (typeof url !== "string") return null;
    try {
      const parsed = new URL(url, window.location.href);
      return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
    } catch (_error) {
      return null;
    }
  }

  function safeImageUrl(url) {
    if (typeof url === "string" && /^data:image\/(png|gif|jpeg|webp|svg\+xml);/i.test(url)) return url;
    const href = safeUrl(url);
    return href && !href.startsWith("mailto:") ? href : null;
  }

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

  // ---------------------------------------------------------------- markdown-lite (text only, no HTML)

  // Teams' {{DATE(iso, SHORT|LONG|COMPACT)}} and {{TIME(iso)}} functions in card text.
  function expandDateFunctions(text) {
    return text.replace(/\{\{(DATE|TIME)\(([^),]+)(?:,\s*(SHORT|LONG|COMPACT))?\)\}\}/g, (whole, fn, iso, fmt) => {
      const date = new Date(iso.trim());
      if (Number.isNaN(date.getTime())) return whole;
      if (fn === "TIME") return date.toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" });
      if (fmt === "LONG") return date.toLocaleDateString("en-US", { weekday: "long", month: "long", day: "numeric", year: "numeric" });
      if (fmt === "SHORT") return date.toLocaleDateString("en-US", { weekday: "short", month: "short", day: "numeric", year: "numeric" });
      return date.toLocaleDateString("en-US");
    });
  }

  const INLINE = /(\*\*([^*]+)\*\*)|(~~([^~]+)~~)|(`([^`]+)`)|(\[([^\]]+)\]\(([^)\s]+)\))|(<at>([\s\S]*?)<\/at>)|(<br\s*\/?>)|(\*([^*\s][^*]*)\*)|(\b_([^_]+)_\b)/g;

  function appendInline(parent, text) {
    let last = 0;
    INLINE.lastIndex = 0;
    let match;
    while ((match = INLINE.exec(text)) !== null) {
      if (match.index > last) parent.append(text.slice(last, match.index));
      if (match[1]) parent.append(el("strong", null, [match[2]]));
      else if (match[3]) parent.append(el("s", null, [match[4]]));
      else if (match[5]) parent.append(el("code", null, [match[6]]));
      else if (match[7]) {
        const href = safeUrl(match[9]);
        parent.append(href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: match[8] }) : match[7]);
      } else if (match[10]) parent.append(el("span", { class: "mention", text: match[11] }));
      else if (match[12]) parent.append(el("br"));
      else if (match[13]) parent.append(el("em", null, [match[14]]));
      else if (match[15]) parent.append(el("em", null, [match[16]]));
      last = INLINE.lastIndex;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  // Paragraphs, "- " / "* " bullets and "1. " numbered lists; everything else inline.
  function renderMarkdown(text, parent) {
    const lines = expandDateFunctions(String(text)).replace(/\r\n/g, "\n").split("\n");
    let list = null;
    let listKind = "";
    let para = null;
    for (const line of lines) {
      const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
      const numbered = /^\s*\d+\.\s+(.*)$/.exec(line);
      if (bullet || numbered) {
        const kind = bullet ? "ul" : "ol";
        if (!list || listKind !== kind) {
          list = el(kind);
          listKind = kind;
          parent.append(list);
        }
        const item = el("li");
        appendInline(item, (bullet || numbered)[1]);
        list.append(item);
        para = null;
        continue;
      }
      list = null;
      if (line.trim() === "") {
        para = null;
        continue;
      }
      if (para) para.append(el("br"));
      else {
        para = el("p");
        parent.append(para);
      }
      appendInline(para, line);
    }
    return parent;
  }

  // ---------------------------------------------------------------- Adaptive Card renderer

  const SIZES = { small: "small", default: "default", medium: "medium", large: "large", extralarge: "xl" };
  const COLORS = ["default", "dark", "light", "accent", "good", "warning", "attention"];
  const SPACING = ["none", "small", "default", "medium", "large", "extralarge", "padding"];
  const CONTAINER_STYLES = ["default", "emphasis", "good", "attention", "warning", "accent"];
  const ALIGN = ["left", "center", "right"];

  const lower = (value) => (typeof value === "string" ? value.toLowerCase() : "");
  const pick = (value, allowed, fallback) => (allowed.includes(lower(value)) ? lower(value) : fallback);

  function textClasses(item, base) {
    const classes = [base];
    const size = SIZES[lower(item.size)];
    if (size && size !== "default") classes.push(`ac-size-${size}`);
    if (lower(item.weight) === "bolder") classes.push("ac-bolder");
    if (lower(item.weight) === "lighter") classes.push("ac-lighter");
    const color = pick(item.color, COLORS, "default");
    if (color !== "default") classes.push(`ac-color-${color}`);
    if (item.isSubtle) classes.push("ac-subtle");
    if (lower(item.fontType) === "monospace") classes.push("ac-mono");
    return classes;
  }

  function applyLayout(node, item, ctx) {
    const spacing = pick(item.spacing, SPACING, "default");
    node.classList.add(`ac-spacing-${spacing}`);
    if (item.separator) node.classList.add("ac-separator");
    const align = pick(item.horizontalAlignment, ALIGN, "");
    if (align) node.classList.add(`ac-align-${align}`);
    if (typeof item.id === "string") node.dataset.acId = item.id;
    if (item.isVisible === false) node.hidden = true;
    if (typeof item.height === "string" && lower(item.height) === "stretch") node.classList.add("ac-stretch");
    return node;
  }

  function renderTextBlock(item) {
    const classes = textClasses(item, "ac-textblock");
    if (lower(item.style) === "heading") classes.push("ac-heading");
    if (item.wrap === false || item.wrap === undefined) classes.push("ac-nowrap");
    const node = el("div", { class: classes.join(" "), role: lower(item.style) === "heading" ? "heading" : null });
    if (Number.isInteger(item.maxLines) && item.maxLines > 0 && item.wrap) {
      node.classList.add("ac-clamp");
      node.style.webkitLineClamp = String(item.maxLines);
    }
    renderMarkdown(item.text ?? "", node);
    return node;
  }

  function renderRichText(item, ctx) {
    const node = el("div", { class: "ac-richtext" + (item.wrap === false ? " ac-nowrap" : "") });
    for (const inline of Array.isArray(item.inlines) ? item.inlines : []) {
      const run = typeof inline === "string" ? { text: inline } : isObject(inline) ? inline : null;
      if (!run || (run.type && run.type !== "TextRun")) continue;
      const classes = textClasses(run, "ac-textrun");
      if (run.italic) classes.push("ac-italic");
      if (run.strikethrough) classes.push("ac-strike");
      if (run.underline) classes.push("ac-underline");
      if (run.highlight) classes.push("ac-highlight");
      const text = expandDateFunctions(String(run.text ?? ""));
      const href = isObject(run.selectAction) && run.selectAction.type === "Action.OpenUrl" ? safeUrl(run.selectAction.url) : null;
      node.append(href
        ? el("a", { class: classes.join(" "), href, target: "_blank", rel: "noopener noreferrer", text })
        : el("span", { class: classes.join(" "), text }));
    }
    return node;
  }

  function renderFactSet(item) {
    const node = el("div", { class: "ac-factset", role: "table" });
    for (const fact of Array.isArray(item.facts) ? item.facts : []) {
      if (!isObject(fact)) continue;
      node.append(el("div", { class: "ac-fact", role: "row" }, [
        renderMarkdown(fact.title ?? "", el("div", { class: "ac-fact-title", role: "rowheader" })),
        renderMarkdown(fact.value ?? "", el("div", { class: "ac-fact-value", role: "cell" })),
      ]));
    }
    return node;
  }

  function renderImage(item) {
    const size = pick(item.size, ["auto", "stretch", "small", "medium", "large"], "auto");
    const src = safeImageUrl(item.url);
    const alt = typeof item.altText === "string" ? item.altText : "";
    const classes = `ac-image ac-image-${size}${lower(item.style) === "person" ? " ac-person" : ""}`;
    if (!src) return el("div", { class: `${classes} ac-image-missing`, text: alt || "image" });
    const img = el("img", { class: classes, src, alt, loading: "lazy" });
    const px = (value) => (typeof value === "string" && /^\d{1,4}px$/.test(value) ? value : null);
    if (px(item.width)) img.style.width = px(item.width);
    if (px(item.height)) img.style.height = px(item.height);
    img.addEventListener("error", () => img.replaceWith(el("div", { class: `${classes} ac-image-missing`, text: alt || "image" })));
    return img;
  }

  function renderItems(items, parent, ctx) {
    for (const item of Array.isArray(items) ? items : []) {
      const node = renderElement(item, ctx);
      if (node) parent.append(node);
    }
    return parent;
  }

  function containerStyle(node, style) {
    const chosen = pick(style, CONTAINER_STYLES, "");
    if (chosen && chosen !== "default") node.classList.add("ac-styled", `ac-style-${chosen}`);
    return node;
  }

  function verticalAlign(node, item) {
    const v = pick(item.verticalContentAlignment, ["top", "center", "bottom"], "");
    if (v) node.classList.add(`ac-valign-${v}`);
    return node;
  }

  function renderContainer(item, ctx) {
    const node = containerStyle(el("div", { class: "ac-container" }), item.style);
    verticalAlign(node, item);
    return renderItems(item.items, node, ctx);
  }

  function renderColumnSet(item, ctx) {
    const node = containerStyle(el("div", { class: "ac-columnset" }), item.style);
    for (const column of Array.isArray(item.columns) ? item.columns : []) {
      if (!isObject(column)) continue;
      const col = containerStyle(el("div", { class: "ac-column" }), column.style);
      applyLayout(col, column, ctx);
      verticalAlign(col, column);
      const width = column.width;
      if (width === "auto") col.style.flex = "0 1 auto";
      else if (typeof width === "number" && width > 0) col.style.flex = `${width} 1 0`;
      else if (typeof width === "string" && /^\d{1,4}px$/.test(width)) col.style.flex = `0 0 ${width}`;
      else if (typeof width === "string" && /^\d+(\.\d+)?$/.test(width)) col.style.flex = `${width} 1 0`;
      else col.style.flex = "1 1 0";
      node.append(renderItems(column.items, col, ctx));
    }
    return node;
  }

  function renderTable(item, ctx) {
    const table = el("table", { class: "ac-table" + (item.showGridLines === false ? "" : " ac-grid") });
    const rows = Array.isArray(item.rows) ? item.rows : [];
    rows.forEach((row, index) => {
      const tr = el("tr");
      for (const cell of isObject(row) && Array.isArray(row.cells) ? row.cells : []) {
        const header = index === 0 && item.firstRowAsHeader !== false;
        tr.append(renderItems(isObject(cell) ? cell.items : [], el(header ? "th" : "td"), ctx));
      }
      table.append(tr);
    });
    return table;
  }

  function labelled(item, control, ctx) {
    const wrap = el("div", { class: "ac-input" });
    if (typeof item.label === "string" && item.label) {
      wrap.append(el("label", { class: "ac-label" }, [item.label, item.isRequired ? el("span", { class: "ac-required", text: " *" }) : null]));
    }
    wrap.append(control);
    wrap.append(el("div", { class: "ac-input-error", hidden: true }));
    return wrap;
  }

  function inputAttrs(item, type) {
    return { "data-input-id": String(item.id ?? ""), "data-input-type": type, "aria-label": item.label || item.placeholder || item.id };
  }

  function renderInputText(item, ctx) {
    const attrs = {
      ...inputAttrs(item, "text"),
      class: "ac-textinput",
      placeholder: item.placeholder,
      maxlength: Number.isInteger(item.maxLength) && item.maxLength > 0 ? item.maxLength : null,
    };
    const control = item.isMultiline ? el("textarea", { ...attrs, rows: 3 }) : el("input", { ...attrs, type: "text" });
    control.value = item.value == null ? "" : String(item.value);
    if (typeof item.regex === "string") control.dataset.regex = item.regex;
    return labelled(item, control, ctx);
  }

  function renderInputSimple(item, ctx, type) {
    const control = el("input", { ...inputAttrs(item, type), class: "ac-textinput", type, placeholder: item.placeholder, min: item.min, max: item.max });
    control.value = item.value == null ? "" : String(item.value);
    return labelled(item, control, ctx);
  }

  function renderToggle(item, ctx) {
    const on = item.valueOn == null ? "true" : String(item.valueOn);
    const off = item.valueOff == null ? "false" : String(item.valueOff);
    const box = el("input", { ...inputAttrs(item, "toggle"), type: "checkbox", class: "ac-toggle" });
    box.dataset.valueOn = on;
    box.dataset.valueOff = off;
    box.checked = String(item.value ?? off) === on;
    return labelled(item, el("label", { class: "ac-toggle-row" }, [box, el("span", { text: item.title ?? "" })]), ctx);
  }

  function renderChoiceSet(item, ctx) {
    const choices = (Array.isArray(item.choices) ? item.choices : []).filter(isObject);
    const selected = new Set(String(item.value ?? "").split(",").filter((v) => v !== ""));
    const multi = Boolean(item.isMultiSelect);
    if (lower(item.style) === "expanded") {
      const group = el("div", { ...inputAttrs(item, "choices"), class: "ac-choices", role: multi ? "group" : "radiogroup" });
      const name = `choice-${ctx.activityId}-${item.id}-${Math.random().toString(36).slice(2, 8)}`;
      for (const choice of choices) {
        const box = el("input", { type: multi ? "checkbox" : "radio", name, value: String(choice.value ?? "") });
        box.checked = selected.has(String(choice.value ?? ""));
        group.append(el("label", { class: "ac-choice" }, [box, el("span", { text: choice.title ?? "" })]));
      }
      return labelled(item, group, ctx);
    }
    const select = el("select", { ...inputAttrs(item, "select"), class: "ac-select", multiple: multi });
    if (!multi) select.append(el("option", { value: "", text: item.placeholder || "" }));
    for (const choice of choices) {
      const option = el("option", { value: String(choice.value ?? ""), text: choice.title ?? "" });
      option.selected = selected.has(String(choice.value ?? ""));
      select.append(option);
    }
    return labelled(item, select, ctx);
  }

  function renderActionSet(item, ctx) {
    return renderActions(item.actions, ctx, el("div", { class: "ac-actionset" }));
  }

  const ELEMENTS = {
    TextBlock: renderTextBlock,
    RichTextBlock: renderRichText,
    FactSet: renderFactSet,
    Image: renderImage,
    Container: renderContainer,
    ColumnSet: renderColumnSet,
    Table: renderTable,
    ActionSet: renderActionSet,
    "Input.Text": renderInputText,
    "Input.Number": (item, ctx) => renderInputSimple(item, ctx, "number"),
    "Input.Date": (item, ctx) => renderInputSimple(item, ctx, "date"),
    "Input.Time": (item, ctx) => renderInputSimple(item, ctx, "time"),
    "Input.Toggle": renderToggle,
    "Input.ChoiceSet": renderChoiceSet,
  };

  function renderElement(item, ctx) {
    if (!isObject(item)) return null;
    const render = ELEMENTS[item.type];
    if (!render) {
      if (isObject(item.fallback)) return renderElement(item.fallback, ctx);
      if (item.fallback === "drop") return null;
      // Teams drops unknown elements silently; the sandbox says so, to help whoever builds the card.
      return el("div", { class: "ac-unknown", text: `Not shown by Teams: unsupported element ${String(item.type)}` });
    }
    const node = render(item, ctx);
    return node ? applyLayout(node, item, ctx) : null;
  }

  // -- actions

  function renderActions(actions, ctx, row) {
    const list = (Array.isArray(actions) ? actions : []).filter(isObject);
    const showCards = el("div", { class: "ac-showcards" });
    const buttons = el("div", { class: "ac-actions" });
    for (const action of list) {
      const node = renderAction(action, ctx, showCards);
      if (node) buttons.append(node);
    }
    if (!buttons.childElementCount) return row;
    row.append(buttons, showCards);
    return row;
  }

  function renderAction(action, ctx, showCards) {
    const title = typeof action.title === "string" ? action.title : "";
    const tooltip = typeof action.tooltip === "string" ? action.tooltip : null;
    const style = pick(action.style, ["default", "positive", "destructive"], "default");
    const secondary = lower(action.mode) === "secondary";
    const wrap = el("div", { class: "ac-action-wrap" + (secondary ? " ac-secondary" : "") });
    const classes = `ac-action ac-action-${style}`;
    if (action.type === "Action.OpenUrl") {
      const href = safeUrl(action.url);
      wrap.append(href
        ? el("a", { class: `${classes} ac-link`, href, target: "_blank", rel: "noopener noreferrer", title: tooltip, text: title || href })
        : el("button", { class: classes, type: "button", disabled: true, text: title }));
      return wrap;
    }
    const button = el("button", {
      class: classes,
      type: "button",
      title: tooltip,
      text: title,
      "data-action-type": String(action.type ?? ""),
      "data-verb": action.type === "Action.Execute" ? String(action.verb ?? "") : null,
    });
    if (action.isEnabled === false) {
      button.disabled = true;
      button.classList.add("ac-disabled");
      wrap.append(button);
      if (tooltip) wrap.append(el("div", { class: "ac-tooltip-note", text: tooltip }));
      return wrap;
    }
    if (action.type === "Action.Execute" || action.type === "Action.Submit") {
      button.addEventListener("click", () => ctx.onAction(action, button));
    } else if (action.type === "Action.ShowCard" && isObject(action.card)) {
      const panel = el("div", { class: "ac-showcard", hidden: true });
      panel.append(renderCardBody(action.card, ctx));
      showCards.append(panel);
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", () => {
        const opening = panel.hidden;
        for (const other of showCards.children) other.hidden = true;
        for (const other of button.closest(".ac-actions").querySelectorAll("[aria-expanded]")) other.setAttribute("aria-expanded", "false");
        panel.hidden = !opening;
        button.setAttribute("aria-expanded", String(opening));
      });
    } else if (action.type === "Action.ToggleVisibility") {
      button.addEventListener("click", () => toggleVisibility(action, button));
    } else {
      button.disabled = true;
    }
    wrap.append(button);
    return wrap;
  }

  function toggleVisibility(action, button) {
    const root = button.closest(".ac-card");
    for (const target of Array.isArray(action.targetElements) ? action.targetElements : []) {
      const id = typeof target === "string" ? target : isObject(target) ? target.elementId : null;
      if (typeof id !== "string") continue;
      for (const node of root.querySelectorAll("[data-ac-id]")) {
        if (node.dataset.acId !== id) continue;
        node.hidden = isObject(target) && typeof target.isVisible === "boolean" ? !target.isVisible : !node.hidden;
      }
    }
  }

  // Teams gathers the card's inputs (ShowCard panels included) as strings keyed by input id, leaving out
  // the ones with no value, as the Adaptive Cards JS renderer does (Input.isSet()).
  function collectInputs(root) {
    const values = {};
    let valid = true;
    for (const input of root.querySelectorAll("[data-input-id]")) {
      const id = input.dataset.inputId;
      if (!id) continue;
      let value = "";
      const type = input.dataset.inputType;
      if (type === "toggle") value = input.checked ? input.dataset.valueOn : input.dataset.valueOff;
      else if (type === "choices") value = [...input.querySelectorAll("input:checked")].map((box) => box.value).join(",");
      else if (type === "select") value = [...input.selectedOptions].map((option) => option.value).filter((v) => v !== "").join(",");
      else value = input.value;
      if (value !== "" && value !== undefined) values[id] = value;
      valid = validateInput(input, value ?? "") && valid;
    }
    return valid ? values : null;
  }

  function validateInput(input, value) {
    const wrap = input.closest(".ac-input");
    const error = wrap && wrap.querySelector(".ac-input-error");
    const spec = input.__acSpec || {};
    let message = "";
    if (spec.isRequired && (value === "" || (input.dataset.inputType === "toggle" && value === input.dataset.valueOff))) {
      message = spec.errorMessage || "This field is required.";
    } else if (input.dataset.regex && value !== "") {
      try {
        if (!new RegExp(`^(?:${input.dataset.regex})$`).test(value)) message = spec.errorMessage || "The value is not valid.";
      } catch (_error) { /* an invalid regex on the card: Teams ignores it too */ }
    }
    if (error) {
      error.textContent = message;
      error.hidden = !message;
    }
    input.classList.toggle("ac-invalid", Boolean(message));
    return !message;
  }

  function renderCardBody(card, ctx) {
    const body = el("div", { class: "ac-body" });
    verticalAlign(body, card);
    renderItems(card.body, body, ctx);
    if (Array.isArray(card.actions) && card.actions.length) body.append(renderActions(card.actions, ctx, el("div", { class: "ac-root-actions ac-spacing-default" })));
    // Remember each input's validation rules without putting them in the DOM.
    const specs = new Map();
    (function walk(node) {
      if (Array.isArray(node)) node.forEach(walk);
      else if (isObject(node)) {
        if (typeof node.type === "string" && node.type.startsWith("Input.") && typeof node.id === "string") specs.set(node.id, node);
        for (const [key, value] of Object.entries(node)) if (key !== "card") walk(value);
      }
    })(card.body);
    for (const input of body.querySelectorAll("[data-input-id]")) input.__acSpec = specs.get(input.dataset.inputId);
    return body;
  }

  /** Render an Adaptive Card; ctx = {activityId, onAction(action, button)}. */
  function renderCard(card, ctx) {
    const root = el("div", { class: "ac-card", "data-activity-id": ctx.activityId });
    if (!isObject(card) || card.type !== "AdaptiveCard") {
      root.append(el("div", { class: "ac-unknown", text: "This card could not be shown (not an AdaptiveCard)." }));
      return root;
    }
    if (isObject(card.msteams) && lower(card.msteams.width) === "full") root.classList.add("ac-full");
    root.append(renderCardBody(card, ctx));
    return root;
  }

  // ---------------------------------------------------------------- page state

  const page = {
    me: null,
    data: null,
    version: -1,
    tab: "posts",
    poll: null,
    rendered: new Map(), // activity id -> {signature, node}
    notes: new Map(), // activity id -> {kind, text}; what the last click answered, for this person
    refreshed: new Set(), // automatic refreshes already sent (Universal Actions `refresh`)
    seenChat: new Map(),
  };

  const $ = (id) => document.getElementById(id);

  function toast(text, kind) {
    const box = $("toast");
    box.textContent = text;
    box.className = kind || "";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
  }

  async function api(path, body, signal) {
    const response = await fetch(path, {
      signal,
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
    return response.json();
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function initials(name) {
    return String(name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  }

  function avatarColor(name) {
    let hash = 0;
    for (const ch of String(name)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return `hsl(${hash % 360} 45% 42%)`;
  }

  // ---------------------------------------------------------------- clicks

  async function onAction(view, action, button) {
    const root = button.closest(".ac-card");
    const inputs = lower(action.associatedInputs) === "none" ? {} : collectInputs(root);
    if (inputs === null) return;
    const base = isObject(action.data) ? action.data : {};
    const data = action.type === "Action.Submit" && !isObject(action.data) && action.data !== undefined && !Object.keys(inputs).length
      ? action.data
      : { ...base, ...inputs };
    setBusy(root, true);
    page.notes.delete(view.id);
    let note = null;
    try {
      const answer = await api("/sandbox/api/click", {
        user: page.me,
        conversationId: view.conversationId,
        activityId: view.id,
        verb: action.verb ?? "",
        title: action.title ?? "",
        actionType: action.type,
        data,
      });
      note = noteFor(answer);
    } catch (error) {
      note = { kind: "error", text: String(error.message || error) };
    }
    if (note) page.notes.set(view.id, note);
    page.rendered.delete(view.id); // redraw even when the card did not change, to drop the spinner
    setBusy(root, false);
    await refresh(false);
  }

  // What Teams shows the clicker for each kind of invoke answer.
  function noteFor(answer) {
    const body = answer.body;
    if (answer.status >= 300 || answer.status < 200) {
      const detail = isObject(body) && isObject(body.error) ? `: ${body.error.message}` : "";
      return { kind: "error", text: `Something went wrong. Please try again. (bot answered HTTP ${answer.status}${detail})` };
    }
    if (!isObject(body)) return null;
    if (body.type === "application/vnd.microsoft.activity.message") return { kind: "info", text: String(body.value ?? "") };
    if (body.type === "application/vnd.microsoft.error") {
      const value = isObject(body.value) ? body.value : {};
      return { kind: "error", text: `${value.message || "Error"}${value.code ? ` (${value.code})` : ""}` };
    }
    return null;
  }

  function setBusy(root, busy) {
    if (!root) return;
    if (busy) {
      root.dataset.busy = "true";
      root.append(el("div", { class: "ac-busy" }, [el("div", { class: "spinner", role: "progressbar", "aria-label": "Waiting for Riposte" })]));
      for (const control of root.querySelectorAll("button, input, select, textarea")) {
        if (!control.disabled) {
          control.disabled = true;
          control.dataset.busyDisabled = "true";
        }
      }
    } else {
      delete root.dataset.busy;
      for (const overlay of root.querySelectorAll(".ac-busy")) overlay.remove();
      for (const control of root.querySelectorAll("[data-busy-disabled]")) {
        control.disabled = false;
        delete control.dataset.busyDisabled;
      }
    }
  }

  // Universal Actions: a card with `refresh` is refreshed for the listed users (all, if none listed).
  function maybeAutoRefresh(view, card) {
    if (view.overridden || view.deleted || !isObject(card) || !isObject(card.refresh)) return;
    const action = card.refresh.action;
    if (!isObject(action) || action.type !== "Action.Execute") return;
    const users = Array.isArray(card.refresh.userIds) ? card.refresh.userIds : null;
    if (users && !users.includes(page.data.meTeamsId) && !users.includes(page.me)) return;
    const key = `${page.me}|${view.id}|${JSON.stringify(card)}`;
    if (page.refreshed.has(key)) return;
    page.refreshed.add(key);
    api("/sandbox/api/click", {
      user: page.me, conversationId: view.conversationId, activityId: view.id,
      verb: action.verb ?? "", title: action.title ?? "", data: isObject(action.data) ? action.data : {}, trigger: "automatic",
    }).then(() => refresh(false)).catch((error) => toast(String(error.message || error), "error"));
  }

  // ---------------------------------------------------------------- rendering the channel

  function renderMessage(view) {
    const sender = view.from.name || "Unknown";
    const avatar = el("div", { class: "avatar" + (view.isBot ? " bot" : ""), text: view.isBot ? "R" : initials(sender), "aria-hidden": "true" });
    if (!view.isBot) avatar.style.background = avatarColor(sender);
    const meta = el("div", { class: "message-meta" }, [
      el("span", { class: "sender", text: sender }),
      view.isBot ? el("span", { class: "app-badge", text: "App" }) : null,
      el("time", { class: "time", datetime: view.timestamp, title: view.timestamp, text: formatTime(view.timestamp) }),
      view.edited && !view.deleted ? el("span", { class: "edited", text: "Edited" }) : null,
    ]);
    const body = el("div", { class: "message-body" }, [meta]);
    if (view.deleted) {
      body.append(el("div", { class: "message-text deleted", text: "This message has been deleted." }));
    } else {
      if (view.text) body.append(renderMarkdown(view.text, el("div", { class: "message-text" })));
      view.cards.forEach((card, index) => {
        const node = renderCard(card, { activityId: view.id, onAction: (action, button) => onAction(view, action, button) });
        node.dataset.cardIndex = String(index);
        if (view.overridden) node.dataset.override = "true";
        body.append(node);
        maybeAutoRefresh(view, card);
      });
      for (const other of view.otherAttachments) {
        body.append(el("div", { class: "attachment", text: `Attachment: ${other.name || other.contentType || "file"}` }));
      }
      const note = page.notes.get(view.id);
      if (note) body.append(el("div", { class: `invoke-note ${note.kind}`, text: note.text }));
    }
    return el("div", {
      class: "message" + (view.isBot ? " from-bot" : ""),
      "data-message-id": view.id,
      "data-from": view.isBot ? "bot" : "person",
    }, [avatar, body]);
  }

  // Keep DOM nodes whose content did not change, so typing in a card or a reply box survives polling.
  function messageNode(view) {
    const note = page.notes.get(view.id);
    const signature = JSON.stringify([view, note || null, page.me]);
    const known = page.rendered.get(view.id);
    if (known && known.signature === signature) return known.node;
    const node = renderMessage(view);
    if (known && known.node.isConnected) known.node.replaceWith(node);
    page.rendered.set(view.id, { signature, node });
    return node;
  }

  function syncChildren(parent, nodes) {
    nodes.forEach((node, index) => {
      if (parent.children[index] !== node) parent.insertBefore(node, parent.children[index] || null);
    });
    while (parent.children.length > nodes.length) parent.lastElementChild.remove();
  }

  const threadNodes = new Map();

  function threadNode(thread) {
    let node = threadNodes.get(thread.id);
    if (!node) {
      const input = el("textarea", { class: "reply-input", rows: 1, placeholder: "Reply", "aria-label": "Reply", "data-thread-id": thread.id });
      const form = el("form", { class: "reply-box" }, [input, el("button", { type: "submit", class: "reply-send", text: "Send" })]);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        send(input, thread.id, false);
      });
      submitOnEnter(input, form);
      node = el("article", { class: "thread", "data-thread-id": thread.id }, [
        el("div", { class: "thread-root" }),
        el("div", { class: "thread-replies" }),
        form,
      ]);
      threadNodes.set(thread.id, node);
    }
    syncChildren(node.querySelector(".thread-root"), [messageNode(thread.root)]);
    syncChildren(node.querySelector(".thread-replies"), thread.replies.map(messageNode));
    return node;
  }

  function nearBottom(scroller) {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  function render(data) {
    const firstRender = page.data === null;
    page.data = data;
    renderPeople(data.people);
    renderTargets(data);
    $("bot-status").hidden = data.botConnected;
    renderSignIn(data.signIn);

    const threads = $("threads");
    const stick = firstRender || nearBottom(threads);
    syncChildren(threads, data.threads.map(threadNode));
    $("empty-posts").hidden = data.threads.length > 0;
    if (stick) threads.scrollTop = threads.scrollHeight;

    const chat = $("chat-messages");
    const stickChat = firstRender || nearBottom(chat);
    syncChildren(chat, data.chat.map(messageNode));
    $("empty-chat").hidden = data.chat.length > 0;
    if (stickChat) chat.scrollTop = chat.scrollHeight;
    updateChatBadge();
    document.body.dataset.version = String(data.version);
  }

  // Single sign-on did not work for a click (or a sign-in card): as Teams, show the sign-in link. Once signed in
  // there, the channel sends the click again by itself and this banner goes away.
  function renderSignIn(signIn) {
    $("sign-in").hidden = !signIn;
    if (!signIn) return;
    $("sign-in-text").textContent = signIn.text || "Riposte asks you to sign in.";
    $("sign-in-link").href = signIn.link;
  }

  function updateChatBadge() {
    const fromBot = page.data.chat.filter((view) => view.isBot).length;
    if (page.tab === "chat") page.seenChat.set(page.me, fromBot);
    const unread = fromBot - (page.seenChat.get(page.me) || 0);
    const badge = $("chat-badge");
    badge.hidden = unread <= 0;
    badge.textContent = unread > 0 ? String(unread) : "";
  }

  function renderPeople(people) {
    const select = $("who");
    const signature = JSON.stringify(people);
    if (select.dataset.signature === signature) return;
    select.dataset.signature = signature;
    select.replaceChildren(...people.map((person) => el("option", {
      value: person.id,
      text: `${person.name} (${person.role || "no role"})`,
      title: person.upn,
    })));
    select.value = page.me;
  }

  function renderTargets(data) {
    $("revert-tools").hidden = !data.canRevert;
    const select = $("revert-user");
    const signature = JSON.stringify(data.targets);
    if (select.dataset.signature === signature) return;
    const chosen = select.value;
    select.dataset.signature = signature;
    select.replaceChildren(...data.targets.map((target) => el("option", { value: target.upn, text: target.name, title: target.upn })));
    const upns = data.targets.map((target) => target.upn);
    select.value = upns.includes(chosen) ? chosen : (upns.find((upn) => upn.startsWith("alice@")) || upns[0] || "");
  }

  // Undo containment in the sandbox tenant (not through Riposte): the watcher's next check should report it.
  async function revert(what, control) {
    const user = $("revert-user").value;
    const body = what === "block_policy_delete" ? { what: "block_policy", user, delete: true } : { what, user };
    control.disabled = true;
    try {
      const answer = await api("/sandbox/api/revert", body);
      const done = (answer.body && answer.body.reverted) || [];
      if (answer.status >= 300) toast(`The sandbox refused: ${(answer.body && answer.body.error) || answer.status}`, "error");
      else if (!done.length) toast(`Nothing to undo for ${user}`, "error");
      else toast(`Sandbox tenant: ${done.join("; ")}. Riposte's next check of ${user} should report it.`, "ok");
    } catch (error) {
      toast(String(error.message || error), "error");
    } finally {
      control.disabled = false;
    }
  }

  // ---------------------------------------------------------------- polling and sending

  // wait=true long-polls: the server answers as soon as anything changes (or after 20 s).
  async function refresh(wait) {
    const me = page.me;
    const params = new URLSearchParams({ user: me });
    let signal;
    if (wait && page.version >= 0) {
      params.set("since", String(page.version));
      params.set("wait", "20");
      page.poll = new AbortController();
      signal = page.poll.signal;
    }
    const data = await api(`/sandbox/api/state?${params}`, undefined, signal);
    if (me !== page.me) return; // the person changed while this was in flight
    page.version = data.version;
    render(data);
  }

  async function pollLoop() {
    for (;;) {
      try {
        await refresh(true);
      } catch (error) {
        if (error.name !== "AbortError") await new Promise((resolve) => setTimeout(resolve, 1500));
      }
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  }

  async function send(input, conversationId, personal) {
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    try {
      const answer = await api("/sandbox/api/message", { user: page.me, text, conversationId, personal });
      if (answer.status >= 300) toast(`Riposte answered HTTP ${answer.status}`, "error");
    } catch (error) {
      input.value = text;
      toast(String(error.message || error), "error");
    }
    await refresh(false);
  }

  function submitOnEnter(input, form) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  function showTab(tab) {
    page.tab = tab;
    $("posts-view").hidden = tab !== "posts";
    $("chat-view").hidden = tab !== "chat";
    for (const [id, name] of [["tab-posts", "posts"], ["tab-chat", "chat"]]) {
      $(id).classList.toggle("active", tab === name);
      $(id).setAttribute("aria-selected", String(tab === name));
    }
    $("nav-general").classList.toggle("active", tab === "posts");
    $("nav-chat").classList.toggle("active", tab === "chat");
    $("channel-name").textContent = tab === "chat" ? "Riposte" : "General";
    $("channel-sub").textContent = tab === "chat" ? "Chat" : "Contoso SOC";
    $("header-avatar").textContent = tab === "chat" ? "R" : "CS";
    $("header-avatar").classList.toggle("bot", tab === "chat");
    if (page.data) {
      updateChatBadge();
      const scroller = tab === "chat" ? $("chat-messages") : $("threads");
      scroller.scrollTop = scroller.scrollHeight;
    }
  }

  function choosePerson(oid) {
    page.me = oid;
    localStorage.setItem("riposte-sandbox-user", oid);
    page.version = -1;
    page.data = null;
    page.notes.clear();
    if (page.poll) page.poll.abort();
    refresh(false).catch((error) => toast(String(error.message || error), "error"));
  }

  async function start() {
    const query = new URLSearchParams(window.location.search);
    const first = await api("/sandbox/api/state");
    const ids = first.people.map((person) => person.id);
    const wanted = query.get("user") || localStorage.getItem("riposte-sandbox-user");
    page.me = ids.includes(wanted) ? wanted : ids[0];
    if (query.get("tab") === "chat") showTab("chat");

    $("who").addEventListener("change", (event) => choosePerson(event.target.value));
    $("tab-posts").addEventListener("click", () => showTab("posts"));
    $("tab-chat").addEventListener("click", () => showTab("chat"));
    $("nav-general").addEventListener("click", () => showTab("posts"));
    $("nav-chat").addEventListener("click", () => showTab("chat"));
    $("rail-chat").addEventListener("click", () => showTab("chat"));
    $("new-post").addEventListener("submit", (event) => {
      event.preventDefault();
      send($("new-post-input"), null, false);
    });
    submitOnEnter($("new-post-input"), $("new-post"));
    $("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      send($("chat-input"), null, true);
    });
    submitOnEnter($("chat-input"), $("chat-form"));
    $("send-sample-alert").addEventListener("click", async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        const answer = await api("/sandbox/api/sample-alert", {});
        toast(`Sample alert sent: Riposte answered HTTP ${answer.status}`, answer.status >= 300 ? "error" : "ok");
      } catch (error) {
        toast(String(error.message || error), "error");
      } finally {
        button.disabled = false;
      }
    });

    for (const button of document.querySelectorAll("#revert-tools button.revert")) {
      button.addEventListener("click", () => revert(button.dataset.what, button));
    }
    $("revert-more").addEventListener("change", async (event) => {
      const select = event.currentTarget;
      if (!select.value) return;
      await revert(select.value, select);
      select.value = "";
    });

    await refresh(false);
    pollLoop();
  }

  window.RiposteSandbox = { renderCard, renderMarkdown, collectInputs, page };
  start().catch((error) => toast(`The sandbox could not start: ${error.message || error}`, "error"));
})();
