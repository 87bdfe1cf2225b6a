// The Textures tab's 3-D preview (studio/material.py): the canvas's material on a lit object,
// orbitable, drawn by three.js (npm `three`, MIT) that the app serves itself from web/vendor/three:
// no request leaves the app. `files` is the export list (a GLB among them, serving/glb.py), `shape`
// the object: sphere, cube, plane, or surround (the band on a cylinder around the camera, seen from
// inside). Runs as the js= of a Gradio listener; __VENDOR__ is the vendor folder's path.
async (files, shape) => {
  const attn = (window.attnDemo = window.attnDemo || {});
  const list = Array.isArray(files) ? files : (files ? [files] : []);
  const name = (f) => String((f && (f.orig_name || f.path || f.url)) || '').toLowerCase();
  const file = list.find((f) => name(f).endsWith('.glb'));
  const root = document.getElementById('tex_3d_view');
  if (!file || !file.url || !root) return;
  const t0 = performance.now();
  const cut = file.url.indexOf('/gradio_api/file=');
  const base = (cut >= 0 ? file.url.slice(0, cut) : '') + '/gradio_api/file=__VENDOR__/';
  try {
    const THREE = await import(base + 'three.module.js');
    const { OrbitControls } = await import(base + 'addons/controls/OrbitControls.js');
    const { GLTFLoader } = await import(base + 'addons/loaders/GLTFLoader.js');
    const steps = { import_ms: performance.now() - t0 };
    let v = attn.view3d;
    if (!v || !root.contains(v.renderer.domElement)) {
      const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
      renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
      renderer.toneMapping = THREE.ACESFilmicToneMapping;
      root.innerHTML = '';
      root.appendChild(renderer.domElement);
      renderer.domElement.style.width = '100%';
      renderer.domElement.style.height = '100%';
      renderer.domElement.style.display = 'block';
      const scene = new THREE.Scene();
      scene.background = new THREE.Color(0x1d2026);
      // a sky / ground fill and a low key light that shows the relief (no environment map: its
      // prefiltering costs seconds on a software renderer, and the light is what judges a material)
      scene.add(new THREE.HemisphereLight(0xdde6ff, 0x3a3026, 1.4));
      const sun = new THREE.DirectionalLight(0xffffff, 2.2); // a low key light shows the relief
      sun.position.set(3, 2.5, 2);
      scene.add(sun);
      const lamp = new THREE.PointLight(0xffffff, 2.5, 0, 0);  // the surround: a lamp at the viewer
      scene.add(lamp);
      const camera = new THREE.PerspectiveCamera(45, 1, 0.005, 100);
      const controls = new OrbitControls(camera, renderer.domElement);
      // drawn on demand (a drag, a resize, a new object), never in a loop: an idle view costs nothing,
      // and a software renderer never starves the page's own work
      const draw = () => { renderer.render(scene, camera); v.frames += 1; };
      controls.addEventListener('change', draw);
      v = attn.view3d = { renderer, scene, camera, controls, draw, sun, lamp, object: null, frames: 0 };
      const fit = () => {
        const w = root.clientWidth || 480, h = root.clientHeight || 420;
        renderer.setSize(w, h, false);
        camera.aspect = w / h;
        camera.updateProjectionMatrix();
        draw();
      };
      new ResizeObserver(fit).observe(root);
      fit();
    }
    steps.setup_ms = performance.now() - t0 - steps.import_ms;
    const data = await (await fetch(file.url)).arrayBuffer();
    steps.fetch_ms = performance.now() - t0 - steps.import_ms - steps.setup_ms;
    const gltf = await new GLTFLoader().parseAsync(data, '');
    steps.load_ms = performance.now() - t0 - steps.import_ms - steps.setup_ms - steps.fetch_ms;
    if (v.object) {
      v.scene.remove(v.object);
      v.object.traverse((o) => {
        if (o.geometry) o.geometry.dispose();
        if (o.material) {
          for (const t of ['map', 'normalMap', 'roughnessMap', 'metalnessMap', 'aoMap']) if (o.material[t]) o.material[t].dispose();
          o.material.dispose();
        }
      });
    }
    v.object = gltf.scene;
    v.scene.add(v.object);
    const { camera, controls } = v;
    controls.target.set(0, 0, 0);
    v.sun.visible = shape !== 'surround';
    v.lamp.visible = shape === 'surround';
    if (shape === 'surround') {        // stand in the middle and look around
      camera.fov = 75;
      camera.position.set(0, 0, 0.01);
      controls.enableZoom = false;
      controls.enablePan = false;
      controls.rotateSpeed = -0.35;    // drag the world, as in a panorama viewer
    } else {
      camera.fov = 45;
      camera.position.set(...(shape === 'plane' ? [0, 2.4, 2.2] : [2.3, 1.5, 2.6]));
      controls.enableZoom = true;
      controls.enablePan = true;
      controls.rotateSpeed = 1;
    }
    camera.updateProjectionMatrix();
    controls.update();
    v.draw();
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));  // on screen
    const ms = performance.now() - t0;
    attn.view3dShown = { shape, ms, url: file.url, ...steps, draw_ms: ms - steps.import_ms - steps.setup_ms - steps.fetch_ms - steps.load_ms };
    root.dataset.shown = shape;
  } catch (e) {
    attn.view3dShown = { shape, error: String(e) };
    root.dataset.shown = 'error';
    console.error('3-D preview:', e);
  }
}
