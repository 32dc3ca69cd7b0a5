"""The Lambda code and Vertex layer assets, built by the CDK app at synth time: local bundling.

`npx cdk synth` / `deploy` on a fresh clone need no `make bundle` first: the asset's bundling
runs `bundle.build_lambda` (wheels for the Lambda platform from `uv.lock`, our two packages
but the local stack, bytecode when a CPython 3.12 is found) into the directory the CDK hands
over. The asset hash is a fingerprint of everything that goes in (the lock, the shipped
sources of `sdk/` and `functions/`, this builder and whether bytecode is compiled: a change
to `stratoflow_functions/local/` alone is no new asset), so an unchanged tree reuses the
bundle already staged in the cloud-assembly folder (`cdk.out/asset.<hash>`) instead of
building it again.

The Vertex layer (`vertex_layer_code`, attached to the Vertex launcher alone) is a second
asset built the same way by `bundle.build_lambda_layer` (what the functions' `[vertex]` extra
adds over the bundle: google-auth and cryptography), fingerprinted by the lock and the two
build modules only; it is built only when a stack turns the Vertex launcher on.

It needs the repository checkout (uv.lock and the package sources) and uv; the CDK never falls
back to Docker, because a failed build raises instead of returning False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from stratoflow_infra import bundle

INPUTS = (
    bundle.ROOT / "uv.lock",
    bundle.ROOT / "sdk/pyproject.toml",
    bundle.ROOT / "functions/pyproject.toml",
    Path(bundle.__file__),
    Path(__file__),
    *bundle.SOURCES,
)
"""What the bundle is built from; any change to one of these is a new asset."""
LAYER_INPUTS = (
    bundle.ROOT / "uv.lock",
    bundle.ROOT / "functions/pyproject.toml",
    Path(bundle.__file__),
    Path(__file__),
)
"""What the Vertex layer is built from (no source of ours goes in)."""
SOURCE_DIR = bundle.ROOT / "functions/src"
"""The asset's nominal source (CDK needs an existing directory; the build reads `INPUTS`)."""
UNUSED_IMAGE = "stratoflow/local-bundling-only"
"""CDK requires an image name; it is never pulled, since local bundling never declines."""


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.rglob("*")):
        if child.is_file() and bundle.shipped(child):
            yield child


def input_files(inputs: tuple[Path, ...] = INPUTS) -> Iterator[Path]:
    """Every file an asset is built from, in a stable order (`inputs`, shipped files only)."""
    for path in inputs:
        yield from _files(path)


def fingerprint(precompiled: bool, inputs: tuple[Path, ...] = INPUTS) -> str:
    """A hash of an asset's inputs (the bundle's by default) and of how it is built."""
    digest = hashlib.sha256(repr((bundle.LAMBDA_PLATFORM, precompiled)).encode())
    for file in input_files(inputs):
        digest.update(str(file.relative_to(bundle.ROOT)).encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


Builder = Callable[[Path, str | None], None]
"""`bundle.build_lambda` or `bundle.build_lambda_layer`: (target, CPython 3.12 or None)."""


@jsii.implements(ILocalBundling)
class LocalBundler:
    """Builds an asset on this machine, into the directory CDK gives it.

    Args:
        python312: the CPython 3.12 to precompile with, or None.
        builder: what builds it (the bundle by default).
    """

    def __init__(self, python312: str | None, builder: Builder = bundle.build_lambda) -> None:
        self._python312 = python312
        self._builder = builder

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        """Build the bundle into `output_dir`; a failure raises (CDK must not try Docker).

        Args:
            output_dir: the empty directory the CDK stages as the asset.
            options: the asset's bundling options (nothing in them is used).
        """
        self._builder(Path(output_dir), self._python312)
        return True


def _asset(inputs: tuple[Path, ...], builder: Builder) -> lambda_.Code:
    python312 = bundle.find_python312()
    return lambda_.Code.from_asset(
        str(SOURCE_DIR),
        asset_hash=fingerprint(python312 is not None, inputs),
        bundling=BundlingOptions(
            image=DockerImage.from_registry(UNUSED_IMAGE), local=LocalBundler(python312, builder)
        ),
    )


def lambda_code() -> lambda_.Code:
    """The Stratoflow Lambda code, built at synth time by local bundling."""
    return _asset(INPUTS, bundle.build_lambda)


def vertex_layer_code() -> lambda_.Code:
    """The Vertex layer's content (`python/google/...`), built at synth time by local bundling."""
    return _asset(LAYER_INPUTS, bundle.build_lambda_layer)
