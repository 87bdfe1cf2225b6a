#!/usr/bin/env bash
# Copies the parts of three.js (npm `three`, MIT) that the Textures tab's 3-D preview uses into
# attn_demo/studio/web/vendor/three/, so the page loads them from the app itself (no CDN, offline).
#   bash scripts/vendor_three.sh            # the pinned version below
# The addons import the bare name 'three'; without an import map the browser cannot resolve it,
# so each `from 'three'` becomes the relative path of three.module.js (the only change made).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.187.0
OUT=attn_demo/studio/web/vendor/three
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "three@$VERSION" >/dev/null && tar -xzf "three-$VERSION.tgz")
SRC="$TMP/package"
rm -rf "$OUT"
mkdir -p "$OUT/addons/controls" "$OUT/addons/loaders" "$OUT/addons/utils"
cp "$SRC/LICENSE" "$OUT/LICENSE"
cp "$SRC/build/three.module.js" "$SRC/build/three.core.js" "$OUT/"
for f in controls/OrbitControls.js loaders/GLTFLoader.js utils/BufferGeometryUtils.js utils/SkeletonUtils.js; do
    sed "s#from 'three';#from '../../three.module.js';#" "$SRC/examples/jsm/$f" > "$OUT/addons/$f"
done
echo "three $VERSION (MIT, npm \`three\`): build/three.module.js, build/three.core.js and examples/jsm addons;
copied by scripts/vendor_three.sh, each addon's \`from 'three'\` made relative." > "$OUT/VERSION"
if grep -rn --include='*.js' "from 'three'" "$OUT"; then echo "a bare 'three' import is left" >&2; exit 1; fi
echo "wrote $OUT"
