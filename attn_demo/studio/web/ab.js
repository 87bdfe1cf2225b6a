  // A/B in "What attention does" (studio/surgery/versions.py): the picture #surg_ab_img holds A's and B's
  // maps side by side (imaging/draw.labelled_grid: a 120-px label column, 4-px gaps, a 16-px label row).
  // Hovering either tile moves a marker to the same pixel on both, drawn by the page (no server work).
  attn.ab = { markers: [] };
  const AB = attn.ab;
  const marker = (i) => {
    if (!AB.markers[i]) {
      const m = document.createElement("div");
      m.className = "surg-ab-marker";
      m.style.cssText = "position:absolute; width:12px; height:12px; margin:-8px 0 0 -8px; border:2px solid #0ff;"
        + "border-radius:50%; box-shadow:0 0 0 2px rgba(0,0,0,.8); pointer-events:none; display:none; z-index:60";
      document.body.appendChild(m);
      AB.markers[i] = m;
    }
    return AB.markers[i];
  };
  AB.tiles = (nw, nh) => {                  // the two tiles' boxes in the picture's own pixels
    const w = (nw - 132) / 2, h = nh - 24;
    return [0, 1].map((j) => ({ x: 124 + j * (w + 4), y: 20, w, h }));
  };
  const hide = () => AB.markers.forEach((m) => { if (m) m.style.display = "none"; });
  document.addEventListener("pointermove", (e) => {
    const img = document.querySelector("#surg_ab_img img");
    if (!img || e.target !== img || !img.naturalWidth) { if (AB.on) { hide(); AB.on = false; } return; }
    const r = img.getBoundingClientRect(), s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
    const left = r.left + (r.width - img.naturalWidth * s) / 2, top = r.top + (r.height - img.naturalHeight * s) / 2;
    const px = (e.clientX - left) / s, py = (e.clientY - top) / s;
    const tiles = AB.tiles(img.naturalWidth, img.naturalHeight);
    const t = tiles.find((b) => px >= b.x && px < b.x + b.w && py >= b.y && py < b.y + b.h);
    if (!t) { hide(); return; }
    AB.u = (px - t.x) / t.w; AB.v = (py - t.y) / t.h; AB.on = true;
    tiles.forEach((b, i) => {
      const m = marker(i);
      m.style.left = left + window.scrollX + (b.x + AB.u * b.w) * s + "px";
      m.style.top = top + window.scrollY + (b.y + AB.v * b.h) * s + "px";
      m.style.display = "block";
    });
  }, true);
