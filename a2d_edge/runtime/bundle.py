"""Deployment bundles: `manifest.json` + model files, every file vouched for by its sha256.

Torch-free. `load_bundle` refuses a bundle whose manifest is missing or malformed, whose files
are missing, or whose files' hashes differ from the manifest (tampered or corrupted).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError

SCHEMA = "a2d.bundle/1"
REQUIRED = ("schema", "arch", "n_actions", "env_id", "preprocessing", "action_meanings", "files",
            "models")  # fmt: skip


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: dict[str, Any]

    @property
    def env_id(self) -> str:
        return str(self.manifest["env_id"])

    @property
    def n_actions(self) -> int:
        return int(self.manifest["n_actions"])

    def model_path(self, precision: str) -> Path:
        models = self.manifest["models"]
        if precision not in models:
            raise A2DError(
                f"bundle {self.root} has no {precision} model; it has: {', '.join(models)}"
            )
        return self.root / models[precision]


def int8_host_warning(bundle: Bundle, model_key: str) -> str | None:
    """One line when the bundle's ORT INT8 model runs on a host whose ISA is not the one it
    was verified for (its int8 kernels may compute otherwise here: `compile.quantize`)."""
    from a2d_edge.utils.fingerprint import INT8_TARGETS, int8_target, isa_words, this_host

    if model_key != "int8":
        return None
    here = this_host()
    name = bundle.manifest["models"]["int8"]
    verified = (bundle.manifest.get("int8_graph") or {}).get("verified_on")
    if not isinstance(verified, dict):
        return (f"{name} records no instruction set it was verified on (exported before a2d "
                f"recorded one): its agreement with fp32 is unchecked on this {here.slug}; "
                "re-export it here (a2d export ... --int8)")  # fmt: skip
    target, target_here = verified.get("target"), int8_target(here)
    host = verified.get("host") or {}
    if target != target_here:
        return (f"{name} was verified for {target} ({host.get('slug', '?')}), this host is "
                f"{target_here} ({here.slug}: {INT8_TARGETS[target_here]}): its agreement with "
                f"fp32 is unchecked here; re-export here or with --target "
                f"{target_here}")  # fmt: skip
    lacks = [f for f in host.get("isa", []) if f not in here.isa]
    if verified.get("check") == "kernels" and lacks:
        return (f"{name} was verified on {host.get('slug', '?')}; this host ({here.slug}) lacks "
                f"{isa_words(lacks)}: its agreement with fp32 is unchecked here")  # fmt: skip
    return None


def write_manifest(root: str | Path, manifest: dict[str, Any]) -> None:
    """Hash every file the manifest names under `files` and write manifest.json atomically."""
    from a2d_edge.utils.io import write_json

    root = Path(root)
    files = {name: sha256(root / name) for name in sorted(manifest["files"])}
    write_json(root / "manifest.json", {"schema": SCHEMA, **manifest, "files": files})


def load_bundle(root: str | Path) -> Bundle:
    root = Path(root)
    path = root / "manifest.json"
    if not path.is_file():
        raise A2DError(f"{root} is not a bundle: no manifest.json")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise A2DError(f"{path} is not valid JSON (line {e.lineno})") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise A2DError(f"{path}: not an a2d bundle manifest (schema {SCHEMA!r})")
    missing = [k for k in REQUIRED if k not in manifest]
    if missing:
        raise A2DError(f"{path} is incomplete: missing {', '.join(missing)}")
    files = manifest["files"]
    for name in manifest["models"].values():
        if name not in files:
            raise A2DError(f"{path}: model {name} is not vouched for by a hash")
    for name, digest in files.items():
        f = root / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise A2DError(f"{path}: file name {name!r} escapes the bundle")
        if not f.is_file():
            raise A2DError(f"bundle {root} is incomplete: {name} is missing")
        if sha256(f) != digest:
            raise A2DError(f"bundle {root}: {name} does not match its sha256 (tampered or corrupt)")
    return Bundle(root, manifest)


def register_model(root: str | Path, name: str, key: str) -> Bundle:
    """Vouch for a model built on the device (a TensorRT engine) in an intact bundle: the
    bundle is verified first, then the file is hashed into the manifest under `models[key]`."""
    from a2d_edge.utils.io import write_json

    bundle = load_bundle(root)
    path = bundle.root / name
    if not path.is_file() or Path(name).name != name:
        raise A2DError(f"{name} is not a file in the bundle {bundle.root}")
    manifest = dict(bundle.manifest)
    manifest["files"] = {**manifest["files"], name: sha256(path)}
    manifest["models"] = {**manifest["models"], key: name}
    write_json(bundle.root / "manifest.json", manifest)
    return load_bundle(root)


def main(argv: list[str] | None = None) -> int:
    """python -m a2d_edge.runtime.bundle register BUNDLE FILE KEY"""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4 or args[0] != "register":
        print("usage: python -m a2d_edge.runtime.bundle register BUNDLE FILE KEY", file=sys.stderr)
        return 2
    try:
        register_model(args[1], args[2], args[3])
    except A2DError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"registered {args[2]} as {args[3]} in {args[1]}/manifest.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
