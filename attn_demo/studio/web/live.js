{
  // Live mode (studio/live.py): the map under the pointer, computed here from the render's queries
  // and keys and drawn on a canvas over the attention view, as the server draws a click's map.
  // times / work: pointer moves; clicks: a click's pointer-down to its map drawn, clickFrames: to the
  // frame that shows it
  const live = attn.live = {times: [], work: [], clicks: [], clickFrames: [], text: "", payload: null, lse: null, base: null,
                            baseSrc: "", sentAt: 0, sentKey: "", hovering: false, held: null};
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const floats = (b64) => new Float32Array(bytes(b64).buffer);
  const canvas = document.createElement("canvas");
  canvas.id = "live_canvas";
  canvas.style.cssText = "position:absolute; pointer-events:none; display:none; z-index:40; image-rendering:pixelated";
  document.body.appendChild(canvas);

  const read = () => {            // the payload the hidden box holds, decoded once per render / setting
    const box = document.querySelector("#view_data textarea");
    const text = box ? box.value : "";
    if (text !== live.text) {
      live.text = text; live.payload = null; live.lse = null;
      if (text) {
        try {
          const p = JSON.parse(text).live;
          if (!p) return null;
          if (!p.server) {
            p.q = floats(p.q); p.k = floats(p.k); p.w = p.w ? floats(p.w) : null; p.palette = bytes(p.palette);
            p.nq = p.grid[0] * p.grid[1]; p.nk = p.key_grid[0] * p.key_grid[1];
            p.regs = p.registers ? floats(p.registers) : null;     // (heads, R, d): register keys
            p.nr = p.regs ? p.regs.length / (p.heads * p.d) : 0;
            p.nrow = p.nk + p.nr + (p.null ? 1 : 0);                // a row: key cells, registers, null slot
            p.wy = resizeWeights(p.mode === "looks-at" ? p.key_grid[0] : p.grid[0], p.display);
            p.wx = resizeWeights(p.mode === "looks-at" ? p.key_grid[1] : p.grid[1], p.display);
          }
          live.payload = p;
        } catch (err) { console.warn("live mode: unreadable payload", err); }
      }
    }
    return live.payload;
  };
  const enabled = () => { const c = document.querySelector("#live_toggle input"); return !!(c && c.checked); };

  // imaging/draw.resize_weights: PIL's bilinear filter, as `taps` (index, weight) pairs per output
  // pixel in flat arrays (unused taps weigh 0).
  function resizeWeights(nIn, nOut) {
    const scale = nIn / nOut, support = Math.max(scale, 1), rows = [];
    for (let o = 0; o < nOut; o++) {
      const centre = (o + 0.5) * scale, row = [];
      let total = 0;
      for (let i = 0; i < nIn; i++) {
        const w = Math.max(1 - Math.abs(i + 0.5 - centre) / support, 0);
        if (w > 0) { row.push([i, w]); total += w; }
      }
      rows.push(row.map(([i, w]) => [i, Math.fround(w / total)]));
    }
    const taps = Math.max(...rows.map((r) => r.length));
    const idx = new Int32Array(nOut * taps), wts = new Float32Array(nOut * taps);
    rows.forEach((row, o) => row.forEach(([i, w], t) => { idx[o * taps + t] = i; wts[o * taps + t] = w; }));
    return {taps, idx, wts};
  }

  // models/attention.attention_logits for one (query, key) pair of head h: j < nk a key cell, then
  // the registers (keys without position), then the null slot (logit 0): serving/probe.row_logits.
  const logit = (p, h, i, j) => {
    const d = p.d, qo = (h * p.nq + i) * d;
    if (j >= p.nk + p.nr) return 0;
    const keys = j < p.nk ? p.k : p.regs, ko = j < p.nk ? (h * p.nk + j) * d : (h * p.nr + j - p.nk) * d;
    let s = 0;
    if (p.kind === "additive") { for (let t = 0; t < d; t++) s += p.w[h * d + t] * Math.tanh(p.q[qo + t] + keys[ko + t]); }
    else { for (let t = 0; t < d; t++) s += p.q[qo + t] * keys[ko + t]; s *= p.scale; }
    return s;
  };
  const logSumExps = (p) => {     // each query's softmax normaliser, once per payload (columns need them)
    const out = new Float64Array(p.heads * p.nq), row = new Float64Array(p.nrow);
    for (let h = 0; h < p.heads; h++) for (let i = 0; i < p.nq; i++) {
      let m = -Infinity;
      for (let j = 0; j < p.nrow; j++) { row[j] = logit(p, h, i, j); if (row[j] > m) m = row[j]; }
      let s = 0;
      for (let j = 0; j < p.nrow; j++) s += Math.exp(row[j] - m);
      out[h * p.nq + i] = m + Math.log(s);
    }
    return out;
  };
  // The map of display pixel (x, y): its row over the keys (looks-at) or its key cell's column over
  // the queries (looked-at-by); one head or their mean. serving/probe.Capture.probe.
  live.heat = (x, y) => {
    const p = read();
    if (!p || p.server) return null;
    const D = p.display, heads = p.head === null ? [...Array(p.heads).keys()] : [p.head];
    if (p.mode === "looks-at") {
      const i = Math.floor(y * p.grid[0] / D) * p.grid[1] + Math.floor(x * p.grid[1] / D);
      const out = new Float64Array(p.nk), row = new Float64Array(p.nrow);
      let regs = 0, nul = 0;
      for (const h of heads) {
        let m = -Infinity, s = 0;
        for (let j = 0; j < p.nrow; j++) { row[j] = logit(p, h, i, j); if (row[j] > m) m = row[j]; }
        for (let j = 0; j < p.nrow; j++) { row[j] = Math.exp(row[j] - m); s += row[j]; }
        for (let j = 0; j < p.nk; j++) out[j] += row[j] / s / heads.length;
        for (let j = p.nk; j < p.nk + p.nr; j++) regs += row[j] / s / heads.length;
        if (p.null) nul += row[p.nrow - 1] / s / heads.length;
      }
      if (p.nrow > p.nk) { out.register_share = regs; out.null_share = nul; }   // probe.Capture.slot_shares
      return out;
    }
    if (!live.lse) live.lse = logSumExps(p);
    const j = Math.floor(y * p.key_grid[0] / D) * p.key_grid[1] + Math.floor(x * p.key_grid[1] / D);
    const out = new Float64Array(p.nq);
    for (const h of heads) for (let i = 0; i < p.nq; i++) out[i] += Math.exp(logit(p, h, i, j) - live.lse[h * p.nq + i]) / heads.length;
    return out;
  };

  // The numbers of the map of display pixel (x, y), as serving/probe.Capture.probe computes them
  // (AttentionMap): the cell, entropy of the normalised map, mean distance (image pixels) from the
  // cell's centre, peak and total weight, the row's shares outside the picture.
  live.stats = (x, y, heat) => {
    const p = read();
    if (!p || p.server) return null;
    heat = heat || live.heat(x, y);
    const D = p.display, [W, H] = p.picture;
    const [from, to] = p.mode === "looks-at" ? [p.grid, p.key_grid] : [p.key_grid, p.grid];
    const cx = Math.floor(x * from[1] / D), cy = Math.floor(y * from[0] / D);
    const ox = (cx + 0.5) * W / from[1], oy = (cy + 0.5) * H / from[0];
    let total = 0, top = 0;
    for (const v of heat) { total += v; if (v > top) top = v; }
    const t = Math.max(total, 1e-30);
    let ent = 0, dist = 0;
    for (let r = 0; r < to[0]; r++) for (let c = 0; c < to[1]; c++) {
      const q = heat[r * to[1] + c] / t;
      ent -= q * Math.log(Math.max(q, 1e-30));
      dist += q * Math.hypot((c + 0.5) * W / to[1] - ox, (r + 0.5) * H / to[0] - oy);
    }
    const u = Math.log(heat.length), out = {x, y, cell: [cx, cy], gamma: p.gamma, entropy_nats: ent,
      uniform_entropy_nats: u, entropy_norm: u > 0 ? ent / u : 0, mean_distance_px: dist, max_weight: top,
      total_weight: total, gamma_ctx: p.gamma_ctx};
    if (heat.register_share !== undefined) {
      out.register_share = heat.register_share; out.null_share = heat.null_share;
      out.pixel_share = Math.max(0, 1 - heat.register_share - heat.null_share);
    }
    return out;
  };
  // probe.AttentionMap.describe(markdown=True), as HTML, and the click line of events.Handlers.show_map
  const signed = (v, n) => (v < 0 ? "-" : "+") + Math.abs(v).toFixed(n);
  const describe = (p, s) => {
    const verb = p.mode === "looks-at" ? "looks at" : "is looked at by", head = p.head === null ? "mean" : p.head;
    let numbers = `γ (gamma) = ${signed(s.gamma, 4)} · entropy ${s.entropy_nats.toFixed(2)} nats `
      + `(${(100 * s.entropy_norm).toFixed(0)}% of uniform) · mean distance ${s.mean_distance_px.toFixed(1)} px `
      + `· peak weight ${s.max_weight.toFixed(3)}`;
    if (s.gamma_ctx !== null && s.gamma_ctx !== undefined) numbers += ` · γ context ${signed(s.gamma_ctx, 4)}`;
    let slots = "";
    if (s.pixel_share !== undefined && s.pixel_share <= 1 - 5e-3) {
      const parts = [];
      if (s.null_share) parts.push(`${(100 * s.null_share).toFixed(0)}% on no pixel (the null slot)`);
      if (s.register_share) parts.push(`${(100 * s.register_share).toFixed(0)}% on the registers`);
      slots = `<br>This pixel puts ${parts.join(" and ")}; the map holds the other ${(100 * s.pixel_share).toFixed(0)}%.`;
    }
    const line = `pointer x=${s.x}, y=${s.y} → image pixel (${Math.floor(s.x * p.resolution / p.display)}, `
      + `${Math.floor(s.y * p.resolution / p.display)}), attention cell (${s.cell[0]}, ${s.cell[1]})`;
    return {line, html: `<b>${p.layer}</b>, head ${head}: the pixel ${verb} this map.<br>${numbers}${slots}`};
  };

  // The pixel line and the numbers follow the pointer: the line in the click box (the server's line
  // comes back when the pointer leaves), the numbers in #live_numbers over the server's (dimmed).
  const numbers = {saved: null, written: null};
  const dim = (on) => { const s = document.querySelector(".attn-stats"); if (s) s.style.opacity = on ? ".45" : ""; };
  const showNumbers = (p, x, y, heat) => {
    const s = live.stats(x, y, heat), text = describe(p, s), box = document.querySelector("#click_info textarea");
    live.shown = s;
    if (box) {
      if (box.value !== numbers.written) numbers.saved = box.value;   // the server's line, kept for later
      box.value = numbers.written = text.line;
    }
    const el = document.getElementById("live_numbers");
    if (el) { el.innerHTML = text.html; el.style.visibility = "visible"; }
    dim(true);
  };
  const restoreNumbers = () => {
    const box = document.querySelector("#click_info textarea");
    if (box && numbers.written !== null && box.value === numbers.written && numbers.saved !== null) box.value = numbers.saved;
    numbers.written = null;
    const el = document.getElementById("live_numbers");
    if (el) el.style.visibility = "hidden";
    dim(false);
  };

  const baseImage = (img) => {    // the image's pixels at the view's size, read once per image
    if (live.baseSrc !== img.src || !live.base) {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      live.base = ctx.getImageData(0, 0, c.width, c.height).data;
      live.baseSrc = img.src;
    }
    return live.base;
  };

  // engine.overlay: levels = bilinear(clip(heat / top) * 255 + 0.5), coloured, blended by alpha.
  const draw = (p, heat, img, x, y) => {
    const D = p.display, base = baseImage(img);
    if (base.length !== D * D * 4) return false;
    const rows = p.mode === "looks-at" ? p.key_grid[0] : p.grid[0], cols = heat.length / rows;
    let top = p.span / p.nk;
    if (p.norm !== "uniform") {
      top = 0; for (const v of heat) if (v > top) top = v;
      if (p.mode === "looks-at" && p.nrow > p.nk) {   // drawn at its share of the row (engine.MapSettings.fixed_top)
        let share = 0; for (const v of heat) share += v;
        if (share < 1 - 1e-6) top /= Math.max(share, 1e-6);
      }
    }
    const scaled = new Float32Array(heat.length);
    for (let n = 0; n < heat.length; n++) scaled[n] = top > 0 ? Math.min(Math.max(heat[n] * (255 / top), 0), 255) + 0.5 : 0;
    const across = new Float32Array(rows * D), wx = p.wx, wy = p.wy;   // scaled @ Wx^T
    for (let r = 0; r < rows; r++) for (let o = 0; o < D; o++) {
      let s = 0;
      for (let t = 0; t < wx.taps; t++) s += scaled[r * cols + wx.idx[o * wx.taps + t]] * wx.wts[o * wx.taps + t];
      across[r * D + o] = s;
    }
    if (canvas.width !== D) { canvas.width = D; canvas.height = D; }
    const ctx = canvas.getContext("2d");
    if (!live.out || live.out.width !== D) { live.out = ctx.createImageData(D, D); live.levels = new Float32Array(D); }
    const out = live.out, px = out.data, pal = p.palette, a = p.alpha, levels = live.levels;
    const line = new Int32Array(D);
    for (let yy = 0; yy < D; yy++) {
      line.fill(0);
      if (top > 0) {
        levels.fill(0);
        for (let t = 0; t < wy.taps; t++) {
          const w = wy.wts[yy * wy.taps + t], from = wy.idx[yy * wy.taps + t] * D;
          if (w !== 0) for (let xx = 0; xx < D; xx++) levels[xx] += w * across[from + xx];
        }
        for (let xx = 0; xx < D; xx++) line[xx] = Math.min(255, Math.trunc(levels[xx]));
      }
      for (let xx = 0, o = yy * D * 4; xx < D; xx++, o += 4) {
        const c = line[xx] * 3;
        px[o] = Math.floor(base[o] + a * (pal[c] - base[o]));
        px[o + 1] = Math.floor(base[o + 1] + a * (pal[c + 1] - base[o + 1]));
        px[o + 2] = Math.floor(base[o + 2] + a * (pal[c + 2] - base[o + 2]));
        px[o + 3] = 255;
      }
    }
    ctx.putImageData(out, 0, 0);
    ctx.beginPath();                                    // the pointer's pixel, as draw.marker_point marks a click
    ctx.arc(x + 0.5, y + 0.5, Math.max(4, Math.floor(D / 48)), 0, 2 * Math.PI);
    ctx.lineWidth = 3; ctx.strokeStyle = "#000"; ctx.stroke();
    ctx.lineWidth = 2; ctx.strokeStyle = "#0ff"; ctx.stroke();
    return true;
  };

  const place = () => {           // the canvas exactly over the attention view's picture
    const target = document.querySelector("#attn_img img") || document.querySelector("#attn_img");
    if (!target) return false;
    const r = target.getBoundingClientRect(), nw = target.naturalWidth || 512, nh = target.naturalHeight || 512;
    const s = Math.min(r.width / nw, r.height / nh, 1);
    canvas.style.left = (r.left + window.scrollX + (r.width - nw * s) / 2) + "px";
    canvas.style.top = (r.top + window.scrollY + (r.height - nh * s) / 2) + "px";
    canvas.style.width = nw * s + "px"; canvas.style.height = nh * s + "px";
    return true;
  };
  // A click's map stays on screen until the server's overlay replaces the one it was drawn over.
  const overlaySrc = () => { const o = document.querySelector("#attn_img img"); return o ? o.src : ""; };
  const holding = () => !!live.held && performance.now() < live.held.until && overlaySrc() === live.held.src;
  const hide = () => {
    live.hovering = false;
    if (holding()) return;
    live.held = null;
    canvas.style.display = "none";
    restoreNumbers();
  };
  new MutationObserver(() => { if (live.held && !holding() && !live.hovering) hide(); }).observe(
    document.body, {subtree: true, attributes: true, attributeFilter: ["src"]});

  // The pixel of the view (display pixels, as a click's) under the pointer, or null off the image.
  const pixelAt = (img, e) => {
    const r = img.getBoundingClientRect(), nw = img.naturalWidth, nh = img.naturalHeight;
    if (!nw) return null;
    const s = Math.min(r.width / nw, r.height / nh, 1);
    const x = Math.floor((e.clientX - r.left - (r.width - nw * s) / 2) / s);
    const y = Math.floor((e.clientY - r.top - (r.height - nh * s) / 2) / s);
    return x >= 0 && y >= 0 && x < nw && y < nh ? [x, y] : null;
  };

  // Too large to ship: the pointer's pixel goes to the server, at most one every 120 ms; the last
  // position of a quick move is sent when the interval is over (the map ends where the pointer stops).
  const askServer = (x, y) => {
    live.pending = x + "," + y;
    if (live.timer) return;
    const send = () => {
      live.timer = null;
      const go = document.querySelector("#live_go");
      if (!go || live.pending === live.sentKey) return;
      live.sentAt = performance.now(); live.sentKey = live.point = live.pending;
      go.click();
    };
    const wait = live.sentAt + 120 - performance.now();
    if (wait <= 0) send(); else live.timer = setTimeout(send, wait);
  };

  const show = (p, img, at) => {  // the map of pixel `at` on the canvas, its numbers beside it
    const heat = live.heat(at[0], at[1]);
    if (!place() || !draw(p, heat, img, at[0], at[1])) return false;
    canvas.style.display = "block";
    live.drawn = p; live.drawnAt = at[0] + "," + at[1];        // what the canvas shows
    live.hovering = true;
    showNumbers(p, at[0], at[1], heat);
    return true;
  };
  const imageUnder = (e) => e.target instanceof HTMLImageElement && e.target.closest("#gen_img") ? e.target : null;

  // A click (pointer down, as a finger's tap): the clicked pixel's map drawn here at once, before the
  // server's answer; it stays until the server's overlay replaces the one on screen (at most 5 s).
  document.addEventListener("pointerdown", (e) => {
    const img = imageUnder(e);
    if (e.button !== 0 || !img || !enabled()) return;
    const p = read(), at = pixelAt(img, e);
    if (!p || p.server || !at) return;
    live.held = {src: overlaySrc(), until: performance.now() + 5000};
    // a mouse has drawn this pixel's map already on its way here (the pointer move): it stays on screen
    const drawn = live.drawn === p && live.drawnAt === at[0] + "," + at[1] && canvas.style.display === "block";
    if (!drawn && !show(p, img, at)) { live.held = null; return; }
    live.clicks.push(performance.now() - e.timeStamp);          // drawn (as live.times for a move)
    const t0 = e.timeStamp;
    requestAnimationFrame(() => live.clickFrames.push(performance.now() - t0));   // its frame begins
    if (live.clicks.length > 2000) { live.clicks.splice(0, 1000); live.clickFrames.splice(0, 1000); }
  }, {passive: true});

  document.addEventListener("pointermove", (e) => {
    const start = performance.now();
    const img = imageUnder(e);
    if (!img || !enabled()) { hide(); return; }
    const p = read(), at = pixelAt(img, e);
    if (!p || !at) { hide(); return; }
    if (p.server) { askServer(at[0], at[1]); return; }
    if (!show(p, img, at)) { hide(); return; }
    const end = performance.now();
    live.times.push(end - e.timeStamp);          // the move's time stamp to its map drawn
    live.work.push(end - start);                 // of which this handler's own work
    if (live.times.length > 2000) { live.times.splice(0, 1000); live.work.splice(0, 1000); }
  }, {passive: true});
  document.addEventListener("pointerleave", hide);
}
