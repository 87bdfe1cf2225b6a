{
  // History (back / forward) and favourites, kept in this browser's localStorage with thumbnails.
  // A view is its link's query string (studio/view.query_of), which the server puts in the hidden
  // #view_data box after every render and map change; the clicked pixel comes from the click line.
  // Opening a kept view hands its query to the server (the hidden #open_go button; events.on_open).
  const HISTORY = "attn-demo.history", FAVOURITES = "attn-demo.favourites", MAX_HISTORY = 50, THUMB = 56;
  const keep = attn.keep = {history: {entries: [], index: -1}, favourites: [], message: ""};
  const load = (key, fallback, valid) => {
    try { const v = JSON.parse(localStorage.getItem(key)); return valid(v) ? v : fallback; }
    catch (err) { return fallback; }       // unreadable (another tool wrote it): start afresh
  };
  const isEntry = (e) => e && typeof e.query === "string" && e.query.startsWith("?") && typeof e.thumb === "string"
    && e.thumb.startsWith("data:image/");
  keep.history = load(HISTORY, keep.history, (v) => v && Array.isArray(v.entries) && v.entries.every(isEntry)
    && Number.isInteger(v.index) && v.index < v.entries.length);
  keep.favourites = load(FAVOURITES, [], (v) => Array.isArray(v) && v.every(isEntry));
  const save = (key, value, shrink) => {   // a full storage: drop the oldest (history) or say so
    for (let tries = 0; tries < 4; tries++) {
      try { localStorage.setItem(key, JSON.stringify(value)); return true; }
      catch (err) { if (!shrink || !shrink()) break; }
    }
    keep.message = "the browser's storage is full: remove some favourites";
    return false;
  };
  const saveHistory = () => save(HISTORY, keep.history, () => {
    const h = keep.history, drop = Math.ceil(h.entries.length / 2);
    if (h.entries.length < 2) return false;
    h.entries.splice(0, drop); h.index = Math.max(0, h.index - drop); return true;
  });

  const thumbnail = () => {
    const img = document.querySelector("#gen_img img");
    if (!img || !img.naturalWidth) return null;
    const c = document.createElement("canvas");
    c.width = c.height = THUMB;
    const ctx = c.getContext("2d");
    ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = "high";
    ctx.drawImage(img, 0, 0, THUMB, THUMB);
    return c.toDataURL("image/jpeg", 0.85);
  };
  const current = () => {                  // [the view's query without the click, with it]
    const box = document.querySelector("#view_data textarea"), text = box ? box.value : "";
    if (text !== keep.dataText) {          // parsed once per render, not on every poll
      keep.dataText = text;
      try { keep.base = text ? JSON.parse(text).query : null; } catch (err) { keep.base = null; }
    }
    const base = keep.base;
    if (!base) return [null, null];
    const t = document.querySelector("#click_info textarea"), m = t && /^x=(\d+), y=(\d+)/.exec(t.value);
    return [base, m ? `${base}&x=${m[1]}&y=${m[2]}` : base];
  };
  const baseOf = (query) => query.replace(/&x=\d+&y=\d+$/, "");

  const open = (query) => {
    const go = document.querySelector("#open_go");
    if (!go) return;
    keep.pending = {base: baseOf(query), since: performance.now()};   // views on the way there are not new
    attn.open = query;
    go.click();
  };
  const step = (by) => {
    record();                              // the view on screen first, whatever the timer has not seen
    const h = keep.history, i = h.index + by;
    if (i < 0 || i >= h.entries.length) return;
    h.index = i; saveHistory(); open(h.entries[i].query); draw();
  };
  const favourite = () => {
    const [, full] = current(), thumb = thumbnail();
    if (!full || !thumb) return;
    if (keep.favourites.some((f) => f.query === full)) { keep.message = "already a favourite"; draw(); return; }
    keep.favourites.push({query: full, thumb, t: Date.now()});
    keep.message = "";
    if (!save(FAVOURITES, keep.favourites)) keep.favourites.pop();
    draw();
  };
  const unfavourite = (i) => { keep.favourites.splice(i, 1); keep.message = ""; save(FAVOURITES, keep.favourites); draw(); };

  const describe = (query) => {            // "seed 42 · Smileys & Emotion · psi 0.8" for a tooltip
    const q = new URLSearchParams(query);
    return [q.get("model"), q.get("seed") && `seed ${q.get("seed")}`, q.get("class"), q.get("psi") && `ψ ${q.get("psi")}`,
            q.get("sliders") && `sliders ${q.get("sliders")}`, q.get("x") && `click ${q.get("x")}, ${q.get("y")}`]
      .filter(Boolean).join(" · ");
  };
  const tile = (entry, onOpen, extra) => {
    const b = document.createElement("button");
    b.className = "keep-tile" + (extra || "");
    b.title = describe(entry.query);
    const img = document.createElement("img");
    img.src = entry.thumb; img.alt = b.title;
    b.appendChild(img);
    b.addEventListener("click", onOpen);
    return b;
  };
  const button = (text, id, onClick, disabled) => {
    const b = document.createElement("button");
    b.textContent = text; b.id = id; b.className = "keep-btn"; b.disabled = !!disabled;
    b.addEventListener("click", onClick);
    return b;
  };
  function draw() {
    const panel = document.getElementById("keep_panel");
    if (!panel) return;
    const h = keep.history, row = document.createElement("div");
    row.className = "keep-row";
    row.append(button("◀ back", "keep_back", () => step(-1), h.index <= 0),
               button("forward ▶", "keep_forward", () => step(+1), h.index >= h.entries.length - 1),
               button("☆ favourite", "keep_fav", favourite));
    const strip = (title, id, tiles) => {
      const s = document.createElement("div");
      s.className = "keep-strip"; s.id = id;
      const label = document.createElement("span");
      label.className = "keep-label"; label.textContent = title;
      s.append(label, ...tiles);
      return s;
    };
    const first = Math.max(0, h.entries.length - 12);
    const history = h.entries.slice(first).map((e, k) => tile(e, () => {
      record();
      h.index = first + k; saveHistory(); open(e.query); draw();
    }, first + k === h.index ? " keep-current" : ""));
    const favourites = keep.favourites.map((f, i) => {
      const wrap = document.createElement("span");
      wrap.className = "keep-fav";
      const x = document.createElement("button");
      x.className = "keep-remove"; x.textContent = "×"; x.title = "remove this favourite";
      x.addEventListener("click", () => unfavourite(i));
      wrap.append(tile(f, () => open(f.query)), x);
      return wrap;
    });
    const note = document.createElement("div");
    note.className = "keep-note"; note.id = "keep_note"; note.textContent = keep.message;
    panel.replaceChildren(row, strip("History", "keep_history", history),
                          strip("Favourites", "keep_favourites", favourites.length ? favourites : [document.createTextNode(" ☆ keeps the view on screen here")]),
                          note);
  }

  let seen = "";
  function record() {                      // the view on screen: a new one, or a new click on it
    const [base, full] = current();
    if (!full || full === seen) return;
    if (keep.pending) {
      if (base !== keep.pending.base && performance.now() - keep.pending.since < 10000) return;
      keep.pending = null;
    }
    const h = keep.history, here = h.entries[h.index];
    if (here && baseOf(here.query) === base) {
      here.query = full;                   // the same image and map settings, another click: kept,
      seen = full;                         // saved a moment later, the panel left as it is
      const tile = document.querySelector("#keep_history .keep-current");
      if (tile) tile.title = describe(full);
      clearTimeout(keep.saveTimer);
      keep.saveTimer = setTimeout(saveHistory, 1000);
      return;
    } else {
      const thumb = thumbnail();
      if (!thumb) return;
      h.entries.splice(h.index + 1);
      h.entries.push({query: full, thumb, t: Date.now()});
      if (h.entries.length > MAX_HISTORY) h.entries.splice(0, h.entries.length - MAX_HISTORY);
      h.index = h.entries.length - 1;
    }
    seen = full;
    saveHistory();
    draw();
  }
  setInterval(() => {
    if (!document.getElementById("keep_panel")) return;
    if (!document.getElementById("keep_back")) draw();
    record();
  }, 250);
}
