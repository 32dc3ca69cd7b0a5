"""The Lambda code asset, built by the CDK app itself at synth time: CDK local bundling, no Docker.

`npx cdk synth` / `deploy` on a fresh clone need no `make bundle` first: the asset's bundling
runs `bundle.build_lambda` (wheels for the Lambda platform from `uv.lock`, our two packages
but the local stack, bytecode when a CPython 3.12 is found) into the directory the CDK hands
over. The asset hash is a fingerprint of everything that goes in (the lock, the shipped
sources of `sdk/` and `functions/`, this builder and whether bytecode is compiled: a change
to `stratoflow_functions/local/` alone is no new asset), so an unchanged tree reuses the
bundle already staged in the cloud-assembly folder (`cdk.out/asset.<hash>`) instead of
building it again.

It needs the repository checkout (uv.lock and the package sources) and uv; the CDK never falls
back to Docker, because a failed build raises instead of returning False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
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


def input_files() -> Iterator[Path]:
    """Every file the bundle is built from, in a stable order (`INPUTS`, shipped files only)."""
    for path in INPUTS:
        yield from _files(path)


def fingerprint(precompiled: bool) -> str:
    """A hash of the bundle's inputs and of how it is built."""
    digest = hashlib.sha256(repr((bundle.LAMBDA_PLATFORM, precompiled)).encode())
    for file in input_files():
        digest.update(str(file.relative_to(bundle.ROOT)).encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalBundler:
    """Builds the bundle on this machine, into the directory CDK gives it."""

    def __init__(self, python312: str | None) -> None:
        self._python312 = python312

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        """Build the bundle into `output_dir`; a failure raises (CDK must not try Docker).

        Args:
            output_dir: the empty directory the CDK stages as the asset.
            options: the asset's bundling options (nothing in them is used).
        """
        bundle.build_lambda(Path(output_dir), self._python312)
        return True


def lambda_code() -> lambda_.Code:
    """The Stratoflow Lambda code, built at synth time by local bundling."""
    python312 = bundle.find_python312()
    return lambda_.Code.from_asset(
        str(SOURCE_DIR),
        asset_hash=fingerprint(python312 is not None),
        bundling=BundlingOptions(
            image=DockerImage.from_registry(UNUSED_IMAGE), local=LocalBundler(python312)
        ),
    )
