"""The image draws the reports' PNGs with matplotlib, although the build drops all of fontTools
but the glyph-name table matplotlib imports (the rest serves PDF/PS output only), to keep the
image under 500 MB."""

from __future__ import annotations

import docker
import pytest

pytestmark = pytest.mark.integration

DRAW = """
import importlib.util, io, struct
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([1, 2, 3], [2, 1, 3], label="predictions")
ax.set_xlabel("actual rings"); ax.set_ylabel("predicted rings"); ax.set_title("t"); ax.legend()
buffer = io.BytesIO(); fig.savefig(buffer, format="png", dpi=100)
png = buffer.getvalue()
width, height = struct.unpack(">II", png[16:24])
no_fonttools = importlib.util.find_spec("fontTools.ttLib") is None
print(png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", width, height, no_fonttools)
"""


def test_image_draws_a_labelled_png_without_fonttools(
    docker_client: docker.DockerClient, image: str
):
    output = docker_client.containers.run(
        image,
        ["-c", DRAW],
        entrypoint="python",
        remove=True,
        network_disabled=True,
        environment={"MPLCONFIGDIR": "/tmp/mpl"},
    )
    assert output.decode().split() == ["True", "400", "300", "True"]
