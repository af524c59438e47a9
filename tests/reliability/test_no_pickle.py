"""Nothing on the model's load path can unpickle: no pickle, joblib or allow_pickle in its
source, and loading plus serving a model in a fresh interpreter resolves no pickled global."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Every module the server runs between reading the model directory and answering a request.
LOAD_PATH = (
    *sorted((REPO / "container").glob("*.py")),
    REPO / "training" / "artifact.py",
    REPO / "training" / "features.py",
    REPO / "training" / "schema.py",
)
FORBIDDEN = re.compile(
    r"\b(pickle|cPickle|cloudpickle|dill|joblib|allow_pickle|marshal|shelve)\b"
    r"|np\.load\(|numpy\.load\(|\beval\(|\bexec\("
)
#: Runs in a fresh interpreter: an audit hook records every pickled global resolved
#: (pickle.find_class, which any code-running pickle needs) while the model loads and serves.
PROBE = """
import json, sys
events = []
sys.addaudithook(lambda event, args: events.append([event, repr(args)[:80]])
                 if event.startswith("pickle.") else None)
from pathlib import Path
from container.app import ModelState, create_app
from container.model import load_model
from container.settings import ServingSettings
settings = ServingSettings(model_dir=Path(sys.argv[1]))
state = ModelState(predictor=load_model(settings.model_dir))
state.warm_up()
client = create_app(settings, state).test_client()
answer = client.post("/invocations", data="M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15",
                     headers={"Content-Type": "text/csv"})
print(json.dumps({"status": answer.status_code, "events": events}))
"""


def code_only(path: Path) -> str:
    """The module's code without its comments and string literals (docstrings say "pickle")."""
    with path.open("rb") as source:
        tokens = tokenize.tokenize(source.readline)
        skip = (tokenize.COMMENT, tokenize.STRING, tokenize.ENCODING)
        return " ".join(token.string for token in tokens if token.type not in skip)


@pytest.mark.parametrize("path", LOAD_PATH, ids=lambda p: str(p.relative_to(REPO)))
def test_load_path_source_has_no_unpickling(path: Path):
    found = FORBIDDEN.findall(code_only(path).replace(" . ", ".").replace(" (", "("))
    assert not found, f"{path.name}: {sorted(set(map(str, found)))}"


def test_loading_and_serving_resolve_no_pickled_global(model_dir: Path):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(model_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 200
    assert report["events"] == []
