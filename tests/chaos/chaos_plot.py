"""The latency picture of a chaos run (Jepsen-style): every operation's latency over time,
coloured by outcome, with the fault windows shaded.

Always writes latency.svg (self-contained, no dependency). When python3-matplotlib is
installed it also writes latency.png with the same content.
"""

import html
import math
import random

COLORS = {("put", "ok"): "#1f63b4", ("get", "ok"): "#7fb3e6", "info": "#ff8c00", "fail": "#d62728"}
FAULT_COLORS = {"kill": "#ff9999", "pause": "#ffe066", "partition": "#b48ee0", "link-down": "#7a7ad6",
                "loss": "#8fd18f",
                "hostile": "#bbbbbb", "hog": "#ffb870", "crash": "#000000",
                "join": "#66c2c2", "decommission": "#c28a66"}
MAX_OK_POINTS = 30000


def _points(ops, seed):
    ok = [o for o in ops if o["outcome"] == "ok"]
    other = [o for o in ops if o["outcome"] != "ok"]
    if len(ok) > MAX_OK_POINTS:
        ok = random.Random(seed).sample(ok, MAX_OK_POINTS)
    return ok + other  # failures drawn last, on top


def _color(op):
    if op["outcome"] == "ok":
        return COLORS[(op["op"], "ok")]
    return COLORS[op["outcome"]]


def write_svg(path, ops, faults, duration, title, seed=0):
    width, height = 1400, 620
    left, right, top, bottom = 70, 20, 40 + 14 * len(FAULT_COLORS) // 3, 90
    pw, ph = width - left - right, height - top - bottom
    lat = [max(1e-4, o["end"] - o["start"]) * 1000.0 for o in ops] or [1.0]
    y_lo = 0.05
    y_hi = max(10.0, max(lat) * 1.5)
    t_hi = max(duration, max((o["end"] for o in ops), default=1.0), 1.0)

    def x(t):
        return left + pw * min(max(t, 0.0), t_hi) / t_hi

    def y(ms):
        ms = min(max(ms, y_lo), y_hi)
        return top + ph * (1 - (math.log10(ms) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="15">{html.escape(title)}</text>']
    # Fault windows: shaded over the whole height, one labelled band per kind on top.
    kinds = sorted({f["kind"] for f in faults})
    for f in faults:
        color = FAULT_COLORS.get(f["kind"], "#cccccc")
        x0, x1 = x(f["start"]), x(f["end"])
        out.append(f'<rect x="{x0:.1f}" y="{top}" width="{max(1.0, x1 - x0):.1f}" height="{ph}" '
                   f'fill="{color}" fill-opacity="0.25"><title>{html.escape(_fault_label(f))}</title></rect>')
        band = kinds.index(f["kind"])
        out.append(f'<rect x="{x0:.1f}" y="{top - 8 - 6 * band}" width="{max(1.0, x1 - x0):.1f}" '
                   f'height="5" fill="{color}"/>')
    # Axes and grid.
    decade = math.floor(math.log10(y_lo))
    while 10 ** decade <= y_hi:
        for mult in (1,):
            v = mult * 10 ** decade
            if y_lo <= v <= y_hi:
                yy = y(v)
                out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#e6e6e6"/>')
                label = f"{v:g} ms" if v < 1000 else f"{v / 1000:g} s"
                out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{label}</text>')
        decade += 1
    step = _nice_step(t_hi)
    t = 0.0
    while t <= t_hi + 1e-9:
        xx = x(t)
        out.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{top + ph}" stroke="#f0f0f0"/>')
        out.append(f'<text x="{xx:.1f}" y="{top + ph + 16}" text-anchor="middle">{t:g}</text>')
        t += step
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 34}" text-anchor="middle">time since start (s)</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" transform="rotate(-90 16 {top + ph / 2})" '
               f'text-anchor="middle">latency (log)</text>')
    # Operations.
    for o in _points(ops, seed):
        ms = max(1e-4, o["end"] - o["start"]) * 1000.0
        cx, cy = x(o["start"]), y(ms)
        color = _color(o)
        if o["op"] == "put":
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="1.6" fill="{color}"/>')
        else:
            out.append(f'<rect x="{cx - 1.4:.1f}" y="{cy - 1.4:.1f}" width="2.8" height="2.8" fill="{color}"/>')
    # Legend.
    ly = top + ph + 56
    lx = left
    legend = [("put ok", COLORS[("put", "ok")], "circle"), ("get ok", COLORS[("get", "ok")], "rect"),
              ("info (unknown)", COLORS["info"], "circle"), ("fail", COLORS["fail"], "circle")]
    legend += [(f"{k} window", FAULT_COLORS.get(k, "#ccc"), "band") for k in kinds]
    for label, color, shape in legend:
        if shape == "band":
            out.append(f'<rect x="{lx}" y="{ly - 8}" width="14" height="10" fill="{color}" fill-opacity="0.6"/>')
        elif shape == "rect":
            out.append(f'<rect x="{lx + 3}" y="{ly - 6}" width="7" height="7" fill="{color}"/>')
        else:
            out.append(f'<circle cx="{lx + 7}" cy="{ly - 3}" r="4" fill="{color}"/>')
        out.append(f'<text x="{lx + 18}" y="{ly + 1}">{html.escape(label)}</text>')
        lx += 30 + 7 * len(label)
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def _fault_label(f):
    extra = ""
    if f["kind"] == "partition":
        extra = f" {f.get('shape')}: {','.join(f.get('side_a', []))} | {','.join(f.get('side_b', []))}"
    elif f["kind"] == "loss":
        extra = f" {f.get('probability', 0):.0%} {f.get('proto', '')}"
    else:
        extra = " " + ",".join(f.get("targets", []))
    return f"{f['kind']}{extra} [{f['start']:.1f} s - {f['end']:.1f} s]"


def _nice_step(span):
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if span / step <= 15:
            return step
    return 1200


def write_png(path, ops, faults, duration, title, seed=0):
    """latency.png with matplotlib; False when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(14, 6), dpi=100)
    for f in faults:
        ax.axvspan(f["start"], f["end"], color=FAULT_COLORS.get(f["kind"], "#ccc"), alpha=0.25, lw=0)
    pts = _points(ops, seed)
    for key, label in ((("put", "ok"), "put ok"), (("get", "ok"), "get ok"), ("info", "info"),
                       ("fail", "fail")):
        sel = [o for o in pts if (o["outcome"] == "ok" and (o["op"], "ok") == key) or o["outcome"] == key]
        if sel:
            ax.scatter([o["start"] for o in sel], [max(1e-4, o["end"] - o["start"]) * 1000 for o in sel],
                       s=3, c=COLORS[key], label=label, marker="o" if key != ("get", "ok") else "s")
    for kind in sorted({f["kind"] for f in faults}):
        ax.axvspan(0, 0, color=FAULT_COLORS.get(kind, "#ccc"), alpha=0.4, label=f"{kind} window")
    ax.set_yscale("log")
    ax.set_xlim(0, max(duration, 1))
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
