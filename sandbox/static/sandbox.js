/* Riposte sandbox: a Teams-like channel page. Cards are drawn by Microsoft's Adaptive Cards renderer
 * (vendor/adaptivecards/adaptivecards.min.js) with the host config Microsoft publishes for Teams; this script is the
 * host around it, as Teams is: markdown, mentions, where a click goes, Universal Actions' refresh.
 * Cards carry attacker-controlled strings (alert titles, rule names), so no string from a card or a message becomes
 * HTML: text goes through textContent and every URL through safeUrl(). The markdown handed to the renderer is the
 * serialisation of DOM nodes built that way. */
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

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const lower = (value) => (typeof value === "string" ? value.toLowerCase() : "");

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

  // ---------------------------------------------------------------- cards: Microsoft's renderer, Teams' host config

  const AC = window.AdaptiveCards;

  // The renderer leaves markdown to its host (Teams renders its subset in TextBlock text and FactSet values): the
  // same DOM-built markdown as message text, handed over as HTML that holds only what textContent produced.
  AC.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = renderMarkdown(text, el("div")).innerHTML;
    result.didProcess = true;
  };

  // Attributes naming what each control is, for people reading the page's DOM and for the browser tests: the
  // verb of an Action.Execute button and the id of an input. Show cards are drawn when opened: marked then too.
  function everyAction(card) {
    const found = [];
    for (const action of card.getAllActions()) {
      found.push(action);
      if (action instanceof AC.ShowCardAction) found.push(...everyAction(action.card)); // not listed by its card
    }
    return found;
  }

  function markControls(adaptive) {
    for (const action of everyAction(adaptive)) {
      const button = action.renderedElement;
      if (!button) continue;
      button.dataset.actionType = action.getJsonTypeName();
      if (action instanceof AC.ExecuteAction) button.dataset.verb = action.verb ?? "";
    }
    for (const input of adaptive.getAllInputs()) {
      const control = input.renderedInputControlElement || input.renderedElement;
      if (control && input.id) control.dataset.inputId = input.id;
    }
  }

  /** Draw an Adaptive Card with Teams' host config; ctx = {activityId, onAction(action, root)}. */
  function renderCard(card, ctx) {
    const root = el("div", { class: "ac-card", "data-activity-id": ctx.activityId });
    if (!isObject(card) || card.type !== "AdaptiveCard") {
      root.append(el("div", { class: "ac-card-error", text: "This card could not be shown (not an AdaptiveCard)." }));
      return root;
    }
    if (isObject(card.msteams) && lower(card.msteams.width) === "full") root.classList.add("ac-full");
    const adaptive = new AC.AdaptiveCard();
    adaptive.hostConfig = page.hostConfig;
    adaptive.onExecuteAction = (action) => ctx.onAction(action, root);
    adaptive.onInlineCardExpanded = () => markControls(adaptive);
    const context = new AC.SerializationContext();
    adaptive.parse(card, context);
    for (let index = 0; index < context.eventCount; index++) {
      // Teams drops what its renderer cannot read without a word; the sandbox tells whoever builds the card.
      console.warn(`card ${ctx.activityId}: ${context.getEventAt(index).message}`);
    }
    const rendered = adaptive.render();
    if (rendered) root.append(rendered);
    markControls(adaptive);
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
    hostConfig: null, // Teams' host config (vendor/adaptivecards/microsoft-teams-light.json), read at start
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

  // The renderer has checked the inputs (isRequired, regex) and merged their values into the action's data, as in
  // Teams; the channel turns the click into the activity Teams sends: an adaptiveCard/action invoke for
  // Action.Execute, a message whose value is the data for Action.Submit.
  async function onAction(view, action, root) {
    const type = action.getJsonTypeName();
    if (type === "Action.OpenUrl") {
      const href = safeUrl(action.url);
      if (href) window.open(href, "_blank", "noopener,noreferrer");
      return;
    }
    if (type !== "Action.Execute" && type !== "Action.Submit") return; // ShowCard, ToggleVisibility: the renderer's
    const data = action.data === undefined ? {} : action.data;
    setBusy(root, true);
    page.notes.delete(view.id);
    let note = null;
    try {
      const answer = await api("/sandbox/api/click", {
        user: page.me,
        conversationId: view.conversationId,
        activityId: view.id,
        verb: type === "Action.Execute" ? action.verb ?? "" : "",
        title: action.title ?? "",
        actionType: type,
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
    // Sign-in (the bot answered 401 loginRequest, and single sign-on failed with 412): Teams prompts on the card.
    if (body.type === "application/vnd.microsoft.activity.loginRequest" ||
        body.type === "application/vnd.microsoft.error.preconditionFailed") {
      return { kind: "info", text: "Riposte needs you to sign in: use the Sign in link above the channel." };
    }
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
        const node = renderCard(card, { activityId: view.id, onAction: (action, root) => onAction(view, action, root) });
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
    page.hostConfig = new AC.HostConfig(await api("/sandbox/static/vendor/adaptivecards/microsoft-teams-light.json"));
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

  window.RiposteSandbox = { renderCard, renderMarkdown, page };
  start().catch((error) => toast(`The sandbox could not start: ${error.message || error}`, "error"));
})();
