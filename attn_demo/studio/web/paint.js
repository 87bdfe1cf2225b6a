  // Free-hand brushes in "What attention does" (studio/surgery/tab.py). With a "free hand" choice in
  // #surg_paint, a drag over the tab's picture paints cells of the layer's grid (its side in #surg_grid;
  // Shift-drag erases) on a canvas over the picture; on release the mask goes into the brush or target
  // box as "mask:N:BITS" (serving/regions.py: raster order, 8 cells a byte, top bit first, base64url)
  // and the hidden #surg_paint_go button has the server draw it. Clicks there then paint, not corners.
  attn.paint = { cells: null, side: 0, erase: false, down: false, canvas: null };
  const P = attn.paint;
  const paintMode = () => {
    const r = document.querySelector("#surg_paint input:checked");
    return r && r.value.endsWith("free hand") ? (r.value.startsWith("target") ? "target" : "brush") : "";
  };
  const box = (what) => document.querySelector(`#surg_${what} textarea, #surg_${what} input`);
  P.decode = (text, side) => {
    const m = /^mask:(\d+):([A-Za-z0-9_-]*)$/.exec((text || "").trim());
    const cells = new Uint8Array(side * side);
    if (!m || Number(m[1]) !== side) return cells;
    const raw = atob(m[2].replace(/-/g, "+").replace(/_/g, "/") + "===".slice((m[2].length + 3) % 4));
    for (let i = 0; i < cells.length; i++) cells[i] = (raw.charCodeAt(i >> 3) >> (7 - (i & 7))) & 1;
    return cells;
  };
  P.encode = (cells, side) => {
    const bytes = new Uint8Array(Math.ceil(cells.length / 8));
    cells.forEach((v, i) => { if (v) bytes[i >> 3] |= 1 << (7 - (i & 7)); });
    const b64 = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    return `mask:${side}:${b64}`;
  };
  const picture = () => document.querySelector("#surg_sketch img");
  const layout = (img) => {                     // the shown picture's box (object-fit: scale-down)
    const r = img.getBoundingClientRect(), s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
    const w = img.naturalWidth * s, h = img.naturalHeight * s;
    return { left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2, w, h };
  };
  const draw = (img) => {
    if (!P.canvas) {
      P.canvas = document.createElement("canvas");
      P.canvas.id = "surg_paint_canvas";
      P.canvas.style.cssText = "position:absolute; pointer-events:none; z-index:60; opacity:.55";
      document.body.appendChild(P.canvas);
    }
    const g = layout(img), c = P.canvas;
    c.style.left = g.left + window.scrollX + "px"; c.style.top = g.top + window.scrollY + "px";
    c.style.width = g.w + "px"; c.style.height = g.h + "px"; c.width = P.side; c.height = P.side;
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, P.side, P.side);
    ctx.fillStyle = P.what === "target" ? "#f0f" : "#0ff";
    P.cells.forEach((v, i) => { if (v) ctx.fillRect(i % P.side, Math.floor(i / P.side), 1, 1); });
    c.style.imageRendering = "pixelated"; c.style.display = "block";
  };
  const cellAt = (img, e) => {
    const g = layout(img), x = (e.clientX - g.left) / g.w, y = (e.clientY - g.top) / g.h;
    if (x < 0 || y < 0 || x >= 1 || y >= 1) return -1;
    return Math.floor(y * P.side) * P.side + Math.floor(x * P.side);
  };
  const onPicture = (e) => { const img = picture(); return img && e.target === img ? img : null; };
  document.addEventListener("pointerdown", (e) => {
    const img = onPicture(e), what = paintMode();
    if (!img || !what) return;
    const side = Number((box("grid") || {}).value || 0);
    if (!side) return;
    e.preventDefault(); e.stopPropagation();
    Object.assign(P, { what, side, erase: e.shiftKey, down: true, cells: P.decode(box(what).value, side) });
    const i = cellAt(img, e);
    if (i >= 0) P.cells[i] = P.erase ? 0 : 1;
    draw(img);
  }, true);
  document.addEventListener("pointermove", (e) => {
    if (!P.down) return;
    const img = picture(), i = img ? cellAt(img, e) : -1;
    if (i >= 0 && P.cells[i] !== (P.erase ? 0 : 1)) { P.cells[i] = P.erase ? 0 : 1; draw(img); }
  }, true);
  document.addEventListener("pointerup", () => {
    if (!P.down) return;
    P.down = false;
    const t = box(P.what);
    t.value = P.cells.some((v) => v) ? P.encode(P.cells, P.side) : "";
    t.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => { const b = document.getElementById("surg_paint_go"); if (b) b.click(); }, 50);
  }, true);
  document.addEventListener("click", (e) => {     // a free-hand click paints (above), not a corner
    if (onPicture(e) && paintMode()) { e.preventDefault(); e.stopPropagation(); }
  }, true);
  document.addEventListener("load", (e) => {       // the server drew the mask: the page's copy goes
    if (P.canvas && !P.down && e.target === picture()) P.canvas.style.display = "none";
  }, true);
