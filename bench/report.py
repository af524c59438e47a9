"""Medians over rounds, ratios to the floors, the serving targets, and the printed table."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

MIB = 1024 * 1024


def _stats(values: list[float]) -> dict[str, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _median(values: list[float]) -> float | None:
    stats = _stats(values)
    return None if stats is None else stats["median"]


def _floor_ms(round_: dict[str, Any], payload: str) -> float | None:
    entry = round_["floor"]["payloads"].get(payload, {})
    return entry["floor_s"] * 1000 if "floor_s" in entry else None


def physical_limit(round_: dict[str, Any], payload: str, cores: int) -> float | None:
    """Rows/s this machine could predict at best: the in-process predict-only floor per row
    (XGBoost inplace_predict, one thread) times the usable cores."""
    entry = round_["floor"]["payloads"].get(payload, {})
    if not entry.get("predict_s") or not entry.get("rows"):
        return None
    return float(cores * entry["rows"] / entry["predict_s"])


def summarise(
    rounds: list[dict[str, Any]], settings: dict[str, Any], machine: dict[str, Any]
) -> dict[str, Any]:
    workers = settings["workers"]
    cores = machine.get("usable_cpus") or workers
    floor_payloads = {s["name"]: s["floor_payload"] for s in settings["scenarios"]}
    rows_of = {p["name"]: p["rows"] for p in settings["payloads"]}
    summary: dict[str, Any] = {"floor": {}, "loads": {}, "servers": {}}

    names = list(dict.fromkeys(n for r in rounds for n in r["floor"]["payloads"]))
    for name in names:
        entries = [r["floor"]["payloads"][name] for r in rounds if name in r["floor"]["payloads"]]
        item: dict[str, Any] = {"rows": rows_of.get(name.rpartition(":")[2])}
        for key in ("floor_s", "predict_s", "pipeline_s"):
            if any(key in e for e in entries):
                item[key] = _stats([e[key] for e in entries if key in e])
        parsers = [e["floor_parser"] for e in entries if "floor_parser" in e]
        if parsers:
            item["floor_parser"] = Counter(parsers).most_common(1)[0][0]
            item["parse_s"] = _stats(
                [e["parsers"][e["floor_parser"]]["parse_s"] for e in entries if "floor_parser" in e]
            )
        summary["floor"][name] = item

    for scenario in settings["scenarios"]:
        sname = scenario["name"]
        per_server: dict[str, Any] = {}
        servers_seen = sorted({srv for r in rounds for srv in r["loads"].get(sname, {})})
        for server in servers_seen:
            samples = [
                (r, r["loads"][sname][server]) for r in rounds if server in r["loads"][sname]
            ]
            entry: dict[str, Any] = {
                key: _stats([s[key] for _, s in samples])
                for key in ("req_per_s", "rows_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms")
            }
            entry["errors"] = sum(s["errors"] for _, s in samples)
            entry["capped"] = any(s.get("capped") for _, s in samples)
            entry["requests"] = sum(s["requests"] for _, s in samples)
            for key in ("pss_mib", "rss_mib", "hwm_mib"):
                entry[f"peak_{key}"] = _stats([s["peak_memory"].get(key) for _, s in samples])
            # Ratios per round (against that round's floors), then their median.
            latency_x, throughput_of, vs_rps, vs_p50 = [], [], [], []
            of_reference, of_physical = [], []
            for r, s in samples:
                reference = r["loads"][sname].get("reference/docker")
                if reference and reference["rows_per_s"] and not server.startswith("reference/"):
                    of_reference.append(s["rows_per_s"] / reference["rows_per_s"])
                limit = physical_limit(r, floor_payloads[sname], cores)
                if limit:
                    of_physical.append(s["rows_per_s"] / limit)
                floor_ms = _floor_ms(r, floor_payloads[sname])
                if floor_ms:
                    latency_x.append(s["p50_ms"] / floor_ms)
                    throughput_of.append(s["req_per_s"] / (workers * 1000 / floor_ms))
                framework = r["loads"][sname].get(f"floor/{server.split('/')[1]}")
                if server.startswith(("real/", "batch/")) and framework:
                    vs_rps.append(s["req_per_s"] / framework["req_per_s"])
                    vs_p50.append(s["p50_ms"] - framework["p50_ms"])
            entry["of_reference"] = _median(of_reference)
            entry["of_physical_limit"] = _median(of_physical)
            entry["p99_over_p50"] = _median([s["p99_ms"] / s["p50_ms"] for _, s in samples])
            memory = [r.get("request_memory", {}).get(sname, {}).get(server) for r in rounds]
            memory = [m for m in memory if m]
            if memory:
                entry["request_peak_above_idle_mib"] = _stats(
                    [m["peak_above_idle_mib"] for m in memory]
                )
                entry["request_peak_x_body"] = _stats([m["x_body"] for m in memory])
            entry["p50_x_floor"] = _median(latency_x)
            entry["throughput_of_floor"] = _median(throughput_of)
            entry["req_per_s_of_framework"] = _median(vs_rps)
            entry["p50_over_framework_ms"] = _median(vs_p50)
            entry["rows"] = rows_of.get(scenario["payload"])
            per_server[server] = entry
        summary["loads"][sname] = per_server

    server_names = sorted({name for r in rounds for name in r["servers"]})
    for name in server_names:
        entries = [r["servers"][name] for r in rounds if name in r["servers"]]
        summary["servers"][name] = {
            "cold_start_s": _stats([e["cold_start_s"] for e in entries]),
            "idle_pss_mib": _stats([e["idle_memory"]["pss_mib"] for e in entries]),
            "idle_rss_mib": _stats([e["idle_memory"]["rss_mib"] for e in entries]),
            "idle_after_pss_mib": _stats(
                [e.get("idle_memory_after", {}).get("pss_mib") for e in entries]
            ),
            "processes": max(e["idle_memory"]["processes"] for e in entries),
        }
    summary["image_size_mb"] = (machine["image"]["size_bytes"] or 0) / 1e6
    summary["targets"] = targets(summary)
    return summary


def _get(summary: dict[str, Any], scenario: str, server: str, key: str) -> float | None:
    value = summary["loads"].get(scenario, {}).get(server, {}).get(key)
    return value["median"] if isinstance(value, dict) else value


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The serving targets for this machine, checked on the medians of the real server in Docker."""
    real = summary["servers"].get("real/docker", {})
    checks = [
        (
            "1 row, 8 clients: req/s >= 80% of the framework floor",
            _get(summary, "csv1_c8", "real/docker", "req_per_s_of_framework"),
            lambda v: v >= 0.8,
            "{:.0%}",
        ),
        (
            "1 row, 8 clients: p99 < 10 ms",
            _get(summary, "csv1_c8", "real/docker", "p99_ms"),
            lambda v: v < 10,
            "{:.2f} ms",
        ),
        (
            "1 row, 1 client: p50 <= framework floor's p50 + 0.15 ms",
            _get(summary, "csv1_c1", "real/docker", "p50_over_framework_ms"),
            lambda v: v <= 0.15,
            "+{:.3f} ms",
        ),
        (
            "1,000 rows, 4 clients: >= 300,000 rows/s",
            _get(summary, "csv1000_c4", "real/docker", "rows_per_s"),
            lambda v: v >= 300_000,
            "{:,.0f} rows/s",
        ),
        (
            "start to first /ping 200 < 2 s",
            (real.get("cold_start_s") or {}).get("median"),
            lambda v: v < 2,
            "{:.2f} s",
        ),
        (
            "whole server idle < 250 MiB PSS",
            (real.get("idle_pss_mib") or {}).get("median"),
            lambda v: v < 250,
            "{:.0f} MiB",
        ),
        ("image < 500 MB", summary.get("image_size_mb"), lambda v: v < 500, "{:.0f} MB"),
        *batch_checks(summary),
    ]
    out = []
    for label, value, check, shown in checks:
        ok = None if value is None else bool(check(value))
        out.append(
            {"target": label, "value": value, "met": ok, "shown": "-" if value is None else shown}
        )
    for item in out:
        if item["value"] is not None:
            item["shown"] = item["shown"].format(item["value"])
    return out


def batch_checks(summary: dict[str, Any]) -> list[tuple[str, Any, Any, str]]:
    """The multi-row targets, per model run (the deep model's scenarios are "deep:...")."""
    checks: list[tuple[str, Any, Any, str]] = []
    prefixes = sorted({name.rpartition(":")[0] for name in summary["loads"]})
    for prefix in prefixes:
        at = f"{prefix}:" if prefix else ""
        model = f" [{prefix} model]" if prefix else ""
        checks += [
            (
                f"1,000 rows, 4 clients{model}: rows/s >= 1.65x the naive reference",
                _get(summary, f"{at}csv1000_c4", "real/docker", "of_reference"),
                lambda v: v >= 1.65,
                "{:.2f}x",
            ),
            (
                f"1,000 rows, 4 clients{model}: rows/s >= 80% of the physical limit",
                _get(summary, f"{at}csv1000_c4", "real/docker", "of_physical_limit"),
                lambda v: v >= 0.8,
                "{:.0%}",
            ),
            (
                f"1,000 rows, 4 clients{model}: p99 < 4x p50",
                _get(summary, f"{at}csv1000_c4", "real/docker", "p99_over_p50"),
                lambda v: v < 4,
                "{:.1f}x",
            ),
        ]
        for scenario, kind in (("batch", "raw"), ("batch_enc", "encoded")):
            checks += [
                (
                    f"6 MB {kind} rows{model}: rows/s >= 1.65x the naive reference",
                    _get(summary, f"{at}{scenario}", "batch/docker", "of_reference"),
                    lambda v: v >= 1.65,
                    "{:.2f}x",
                ),
                (
                    f"6 MB {kind} rows{model}: one request's peak memory <= 4x the body above idle",
                    _get(summary, f"{at}{scenario}", "batch/docker", "request_peak_x_body"),
                    lambda v: v <= 4,
                    "{:.1f}x",
                ),
            ]
    return checks


# --- rendering ----------------------------------------------------------------------------


def _range(stats: dict[str, float] | None, fmt: str) -> str:
    if not stats:
        return "-"
    return f"{fmt.format(stats['median'])} [{fmt.format(stats['min'])}-{fmt.format(stats['max'])}]"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _x2(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _delta(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f} ms"


def render(summary: dict[str, Any], settings: dict[str, Any], machine: dict[str, Any]) -> str:
    workers = settings["workers"]
    lines = [
        "",
        f"abalone-byom serving benchmark: {settings['model']['trees']} trees depth "
        f"{settings['model']['max_depth']}, {workers} gunicorn workers, Docker network "
        f"{settings['network']}, load from {settings['load_generator']} on 127.0.0.1",
        f"machine: {machine['cpu_model']}, {machine['cpus']} CPUs ({machine['usable_cpus']} usable)"
        f", {machine['memory_gib']} GiB, Linux {machine['kernel']}, Docker "
        f"{machine['docker_version']}; load average {machine['load_average_start']} at start, "
        f"{machine.get('load_average_end')} at end",
        f"{settings['rounds']} interleaved rounds of {settings['duration_s']} s loads: "
        "median [min-max]. The machine may be shared: trust the ratios more than absolutes.",
        "",
        "In-process floor (one process, one core, OMP 1 thread): fastest plain CSV parse + "
        "inplace_predict; 'server pipeline' is container.invocations.predict_payload in-process",
        f"  {'payload':<10} {'rows':>7} {'floor/call':>12} {'rows/s/core':>12} {'parse':>10} "
        f"{'predict':>10} {'server pipeline':>16}  parser",
    ]
    for name, item in summary["floor"].items():
        floor = (item.get("floor_s") or {}).get("median")
        rows = item.get("rows") or 0
        lines.append(
            f"  {name:<10} {rows:>7,} "
            f"{_ms(floor):>12} {(f'{rows / floor:,.0f}' if floor else '-'):>12} "
            f"{_ms((item.get('parse_s') or {}).get('median')):>10} "
            f"{_ms((item.get('predict_s') or {}).get('median')):>10} "
            f"{_ms((item.get('pipeline_s') or {}).get('median')):>16}  "
            f"{item.get('floor_parser', '(JSON: no plain floor)')}"
        )
    lines += [
        "",
        "Servers. x floor: p50 / in-process floor per call (lower is better); % floor: req/s / "
        f"({workers} workers x floor calls/s); vs framework: the Flask app that returns a "
        "constant, same gunicorn options, same place (docker/host)",
        f"  {'scenario':<44} {'server':<13} {'req/s':>22} {'rows/s':>11} {'p50 ms':>20} "
        f"{'p99 ms':>8} {'x floor':>8} {'% floor':>8} {'vs framework':>22}",
    ]
    for scenario in settings["scenarios"]:
        for server, entry in summary["loads"].get(scenario["name"], {}).items():
            framework = ""
            if entry.get("req_per_s_of_framework") is not None:
                framework = (
                    f"{_pct(entry['req_per_s_of_framework'])} req/s, "
                    f"{_delta(entry['p50_over_framework_ms'])}"
                )
            errors = f"  ({entry['errors']} errors)" if entry["errors"] else ""
            if entry.get("capped"):
                errors += "  (hit the request cap: req/s is a lower bound)"
            model = not server.startswith("floor/")  # the framework floor has no model
            rows_per_s = (entry["rows_per_s"] or {}).get("median", 0)
            lines.append(
                f"  {scenario['label']:<44} {server:<13} "
                f"{_range(entry['req_per_s'], '{:,.0f}'):>22} "
                f"{(f'{rows_per_s:,.0f}' if model else '-'):>11} "
                f"{_range(entry['p50_ms'], '{:.2f}'):>20} "
                f"{(entry['p99_ms'] or {}).get('median', 0):>8.2f} "
                f"{(_x(entry['p50_x_floor']) if model else '-'):>8} "
                f"{(_pct(entry['throughput_of_floor']) if model else '-'):>8} "
                f"{framework:>22}{errors}"
            )
    lines += [
        "",
        "Multi-row: rows/s as a ratio to the naive reference (bench/reference_app.py: Flask, "
        "gunicorn sync workers, np.loadtxt, inplace_predict) and to the physical limit "
        f"({machine['usable_cpus']} usable cores x the in-process predict-only rows/s); one "
        "request's peak memory above idle (fresh container, cgroup memory.peak)",
        f"  {'scenario':<58} {'server':<17} {'rows/s':>11} {'x reference':>12} "
        f"{'of limit':>9} {'p99/p50':>8} {'request peak':>22}",
    ]
    for scenario in settings["scenarios"]:
        for server, entry in summary["loads"].get(scenario["name"], {}).items():
            if (entry.get("rows") or 0) < 1000 or server.startswith("floor/"):
                continue
            peak = entry.get("request_peak_above_idle_mib")
            times = entry.get("request_peak_x_body")
            memory = "-"
            if peak and times:
                memory = f"{peak['median']:.0f} MiB ({times['median']:.1f}x body)"
            lines.append(
                f"  {scenario['label']:<58} {server:<17} "
                f"{(entry['rows_per_s'] or {}).get('median', 0):>11,.0f} "
                f"{_x2(entry.get('of_reference')):>12} {_pct(entry.get('of_physical_limit')):>9} "
                f"{_x(entry.get('p99_over_p50')):>8} {memory:>22}"
            )
    lines += [
        "",
        "Start and memory (all processes of the server; idle after 20 warm-up requests; peak "
        "sampled every 0.2 s under load)",
        f"  {'server':<13} {'start to /ping 200 s':>24} {'idle PSS MiB':>14} {'idle RSS MiB':>14} "
        f"{'peak PSS under load':>20} {'procs':>6}",
    ]
    for name, item in summary["servers"].items():
        peaks = [
            entry["peak_pss_mib"]["median"]
            for loads in summary["loads"].values()
            for server, entry in loads.items()
            if server == name and entry.get("peak_pss_mib")
        ]
        lines.append(
            f"  {name:<13} {_range(item['cold_start_s'], '{:.2f}'):>24} "
            f"{(item['idle_pss_mib'] or {}).get('median', 0):>14.0f} "
            f"{(item['idle_rss_mib'] or {}).get('median', 0):>14.0f} "
            f"{(max(peaks) if peaks else 0):>20.0f} {item['processes']:>6}"
        )
    batch = summary["loads"].get("batch", {}).get("batch/docker")
    if batch:
        lines.append(
            f"  batch transform: {(batch['rows_per_s'] or {}).get('median', 0):,.0f} rows/s, "
            f"peak PSS {(batch['peak_pss_mib'] or {}).get('median', 0):.0f} MiB, sum of peak RSS "
            f"(VmHWM) {(batch['peak_hwm_mib'] or {}).get('median', 0):.0f} MiB"
        )
    lines.append(f"  image {machine['image']['tags']}: {summary['image_size_mb']:.0f} MB")
    lines += ["", "Targets (real server in Docker, medians)"]
    for item in summary["targets"]:
        mark = {True: "met ", False: "MISS", None: "n/a "}[item["met"]]
        lines.append(f"  [{mark}] {item['target']}: {item['shown']}")
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.3f} ms"
