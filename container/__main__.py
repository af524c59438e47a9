"""The image's one entry point: `serve`, `train` (Training job), or Processing (no verb).

Exec-form ENTRYPOINT runs this as PID 1; for `serve` it becomes the gunicorn master, which
forwards signals to the workers and reaps them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

USAGE = """usage: python -m container VERB [ARGS...]
  serve                  start the model server (SageMaker hosting and batch transform)
  train                  run a SageMaker Training job (reads /opt/ml/input)
  (no verb) | process    run a SageMaker Processing job stage
"""

log = logging.getLogger("container")


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        stream=sys.stdout,
        level=level.upper(),
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
    )


def serve() -> int:
    # One OpenMP thread per worker: set before xgboost is imported, or it spawns one per core.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from container import server
    from container.app import ModelState, create_app
    from container.model import ModelLoadError, load_model
    from container.settings import ServingSettings, SettingsError

    try:
        settings = ServingSettings.from_env()
    except SettingsError as exc:
        configure_logging()
        log.error("invalid setting: %s", exc)
        return 2
    configure_logging(settings.log_level)
    try:
        predictor = load_model(settings.model_dir)
    except ModelLoadError as exc:
        log.error("cannot serve: %s", exc)
        return 1
    state = ModelState(predictor=predictor)
    server.run(settings, create_app(settings, state), state)
    return 0


def not_yet(mode: str) -> int:
    configure_logging()
    log.error("%s is not available in this image yet; only 'serve' is", mode)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verb = args[0] if args else None
    if verb == "serve":
        return serve()
    if verb == "train":
        return not_yet("training (train)")
    if verb is None or verb == "process":
        return not_yet("processing (no verb)")
    print(f"unknown verb {verb!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
