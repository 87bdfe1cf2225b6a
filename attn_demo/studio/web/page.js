{
  // The page's own script, run once when it opens (web/__init__.py joins page.js, live.js and keep.js
  // into launch(js=web.JS); everything the scripts keep lives in one namespace, window.attnDemo):
  // - Enter in a number box (seed, truncation, opacity, a slider's box) applies it, as clicking away does;
  // - a ring marks the clicked pixel on the image itself (not only on the map). It follows the click line
  //   ("x=.., y=.." in display pixels, which every click, render and state load sets), drawn by the page
  //   over the image: no server work and no extra bytes per click;
  // - live mode (live.js): the map under the pointer, drawn by the page;
  // - history and favourites (keep.js), kept in the browser's localStorage.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target instanceof HTMLInputElement && e.target.type === "number") e.target.blur();
  }, true);
  const ring = document.createElement("div");
  ring.id = "click_marker";
  ring.style.cssText = "position:absolute; width:14px; height:14px; margin:-9px 0 0 -9px; border:2px solid #0ff;"
    + "border-radius:50%; box-shadow:0 0 0 2px rgba(0,0,0,.8); pointer-events:none; display:none; z-index:50";
  document.body.appendChild(ring);
  let last = "";
  const place = () => {
    const t = document.querySelector("#click_info textarea"), img = document.querySelector("#gen_img img");
    if (t && t.value.startsWith("pointer ")) return;     // live.js shows the pointer's line: the ring stays
    const m = t && /^x=(\d+), y=(\d+)/.exec(t.value);
    if (!m || !img || !img.naturalWidth) { ring.style.display = "none"; return; }
    const r = img.getBoundingClientRect(), s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
    const x = r.left + window.scrollX + (r.width - img.naturalWidth * s) / 2 + (Number(m[1]) + 0.5) * s;
    const y = r.top + window.scrollY + (r.height - img.naturalHeight * s) / 2 + (Number(m[2]) + 0.5) * s;
    const key = x + "," + y;
    if (key !== last || ring.style.display === "none") {
      last = key; ring.style.left = x + "px"; ring.style.top = y + "px"; ring.style.display = "block";
    }
  };
  setInterval(place, 100);
  // The Textures tab: the same ring over the canvas at its clicked pixel ("Clicked (x, y)" in canvas pixels
  // under it; "W × H px" there gives the canvas's width, so the display scale).
  const texRing = ring.cloneNode();
  texRing.id = "tex_marker";
  document.body.appendChild(texRing);
  setInterval(() => {
    const t = document.querySelector("#tex_info"), img = document.querySelector("#tex_img img");
    const text = t ? t.innerText : "", m = /Clicked \((\d+), (\d+)\)/.exec(text), w = /(\d+) × \d+ px/.exec(text);
    if (!m || !w || !img || !img.naturalWidth || !img.offsetParent) { texRing.style.display = "none"; return; }
    const r = img.getBoundingClientRect(), s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
    const k = img.naturalWidth / Number(w[1]) * s;                  // screen px per canvas px
    texRing.style.left = r.left + window.scrollX + (r.width - img.naturalWidth * s) / 2 + (Number(m[1]) + 0.5) * k + "px";
    texRing.style.top = r.top + window.scrollY + (r.height - img.naturalHeight * s) / 2 + (Number(m[2]) + 0.5) * k + "px";
    texRing.style.display = "block";
  }, 100);
}
