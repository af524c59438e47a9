"""`make bench`: the serving benchmark (the real image under load, next to its floors).

Kept import-light on purpose: `bench.floor_app` runs inside the image, which has Flask and
gunicorn but none of the host-side tools (docker SDK, requests, wrk).
"""
