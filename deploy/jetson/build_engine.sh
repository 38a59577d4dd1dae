#!/bin/sh
# Build a bundle's TensorRT engine on this device and vouch for it in the manifest.
# usage: deploy/jetson/build_engine.sh BUNDLE_DIR
set -eu
bundle="${1:?usage: build_engine.sh BUNDLE_DIR}"
if [ ! -x "$bundle/build_engine.sh" ]; then
  echo "error: $bundle has no build_engine.sh (export it with a2d export --tensorrt fp16|int8)" >&2
  exit 2
fi
if [ ! -x /usr/src/tensorrt/bin/trtexec ] && ! command -v trtexec >/dev/null; then
  echo "error: trtexec not found (JetPack: sudo apt-get install tensorrt)" >&2
  exit 2
fi

"$bundle/build_engine.sh"
