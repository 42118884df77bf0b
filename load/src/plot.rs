//! Pictures of runs as plain SVG: for each run (side by side, same axes) the
//! timeline (ops/s and errors per 100 ms, p99 per second) with the fault and
//! the promotion marked, and the latency histogram. Pure: data in, text out.
//!
//! Every series is one `<polyline data-series="...">` (one point per bucket
//! or second) and every marker a `<line data-marker="...">`, so a test or a
//! script can read the picture back. Not here: where the data comes from
//! ([`crate::Report::plot_run`], or `bench/`'s JSON records).

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::failover::BUCKET_MS;
use crate::measure::{bin_floor_us, BINS_PER_OCTAVE};
use crate::report::Bucket;

/// What one run's picture shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlotRun {
    /// Column heading (`redwire`, `fred`, ...).
    pub label: String,
    /// Ops and errors per [`BUCKET_MS`].
    pub buckets: Vec<Bucket>,
    /// p99 latency per second, µs.
    pub p99_us: Vec<u64>,
    /// Latency counts, [`BINS_PER_OCTAVE`] bins per doubling from 1 µs.
    pub latency_bins: Vec<u64>,
    /// The fault, ms since the start.
    pub fault_at_ms: Option<u64>,
    /// The promotion, ms since the start.
    pub promoted_at_ms: Option<u64>,
}

const PANEL_W: f64 = 380.0;
const PANEL_H: f64 = 110.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 56.0;
const GAP: f64 = 46.0;
const COLUMN_W: f64 = LEFT + PANEL_W + RIGHT;

/// Axis ranges shared by every column, so runs compare at a glance.
struct Axes {
    time_ms: f64,
    ops_per_sec: f64,
    /// The p99 axis is logarithmic, from `10^p99_decades.0` to `10^p99_decades.1` µs.
    p99_decades: (i32, i32),
    errors: f64,
    bins: usize,
    share: f64,
}

/// Rounds up to 1, 2 or 5 times a power of ten.
fn nice(v: f64) -> f64 {
    if v.is_nan() || v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|&c| c >= v).unwrap_or(10.0 * p)
}

fn axes(runs: &[PlotRun]) -> Axes {
    let max = |f: &dyn Fn(&PlotRun) -> f64| runs.iter().map(f).fold(0.0, f64::max);
    let per_sec = 1000.0 / BUCKET_MS as f64;
    Axes {
        time_ms: (max(&|r| (r.buckets.len() as u64 * BUCKET_MS) as f64) / 1000.0).ceil().max(1.0) * 1000.0,
        ops_per_sec: nice(max(&|r| r.buckets.iter().map(|b| b.ops).max().unwrap_or(0) as f64 * per_sec)),
        p99_decades: {
            let all = || runs.iter().flat_map(|r| r.p99_us.iter().copied()).filter(|&us| us > 0);
            let lo = all().min().map_or(1, |us| (us as f64).log10().floor() as i32);
            let hi = all().max().map_or(lo + 1, |us| (us as f64).log10().ceil() as i32);
            (lo, hi.max(lo + 1))
        },
        errors: nice(max(&|r| r.buckets.iter().map(|b| b.errors).max().unwrap_or(0) as f64)),
        bins: runs.iter().map(|r| r.latency_bins.len()).max().unwrap_or(0).max(1),
        share: nice(max(&|r| {
            let total = r.latency_bins.iter().sum::<u64>().max(1) as f64;
            r.latency_bins.iter().copied().max().unwrap_or(0) as f64 * 100.0 / total
        })),
    }
}

/// Escapes text for an SVG text node or attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A short number for an axis label: 12, 1.5k, 2M.
fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// A latency for an axis label: 500us, 2ms, 1.5s.
fn latency(us: f64) -> String {
    if us >= 1e6 {
        format!("{}s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{}ms", trim(us / 1e3))
    } else {
        format!("{}us", trim(us))
    }
}

/// Splits `text` at `", "` into lines of about `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for part in text.split(", ") {
        match lines.last_mut() {
            Some(line) if line.len() + part.len() + 2 <= width => {
                line.push_str(", ");
                line.push_str(part);
            }
            _ => lines.push(part.to_string()),
        }
    }
    lines
}

/// One panel: a frame at (`x`, `y`) with a title and y-axis labels `0 .. max`.
fn frame(out: &mut String, x: f64, y: f64, title: &str, max: f64, label: fn(f64) -> String) {
    let ticks = [(0.0, label(0.0)), (0.5, label(max / 2.0)), (1.0, label(max))];
    frame_with(out, x, y, title, &ticks);
}

/// One panel: a frame with a title and y-axis labels at fractions of its height.
fn frame_with(out: &mut String, x: f64, y: f64, title: &str, ticks: &[(f64, String)]) {
    let _ = writeln!(
        out,
        r##"<rect x="{x:.1}" y="{y:.1}" width="{PANEL_W:.1}" height="{PANEL_H:.1}" fill="#fafafa" stroke="#999"/>"##
    );
    let _ = writeln!(out, r#"<text x="{x:.1}" y="{:.1}" class="title">{}</text>"#, y - 6.0, escape(title));
    for (frac, text) in ticks {
        let ty = y + PANEL_H * (1.0 - frac);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
            x - 4.0,
            ty + 4.0,
            escape(text)
        );
    }
}

/// Seconds along the bottom of a timeline panel.
/// Seconds along the bottom of a timeline panel, every 1, 2, 5, 10 ... s (at most about 6 labels).
fn time_ticks(out: &mut String, x: f64, y: f64, time_ms: f64) {
    let seconds = time_ms / 1000.0;
    let step = nice(seconds / 6.0).max(1.0);
    let mut t = 0.0;
    while t <= seconds + 1e-9 {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}s</text>"#,
            x + PANEL_W * t / seconds,
            y + PANEL_H + 13.0,
            trim(t)
        );
        t += step;
    }
}

fn polyline(out: &mut String, series: &str, color: &str, points: &[(f64, f64)]) {
    let mut text = String::with_capacity(points.len() * 12);
    for (i, (px, py)) in points.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        let _ = write!(text, "{px:.1},{py:.1}");
    }
    let _ = writeln!(
        out,
        r#"<polyline data-series="{series}" fill="none" stroke="{color}" stroke-width="1.2" points="{text}"/>"#
    );
}

/// The fault and promotion lines across a timeline panel.
fn markers(out: &mut String, run: &PlotRun, x: f64, y: f64, time_ms: f64) {
    let marks = [(run.fault_at_ms, "fault", "#d62728"), (run.promoted_at_ms, "promoted", "#2ca02c")];
    for (at, name, color) in marks {
        let Some(at) = at else { continue };
        let mx = x + PANEL_W * (at as f64 / time_ms).min(1.0);
        let _ = writeln!(
            out,
            r#"<line data-marker="{name}" x1="{mx:.1}" y1="{y:.1}" x2="{mx:.1}" y2="{:.1}" stroke="{color}" stroke-dasharray="4 3"/>"#,
            y + PANEL_H
        );
        // Near the right edge the label goes on the line's left.
        let (lx, anchor) = if mx > x + PANEL_W * 0.75 { (mx - 3.0, "end") } else { (mx + 3.0, "start") };
        let _ = writeln!(
            out,
            r#"<text x="{lx:.1}" y="{:.1}" class="tick" fill="{color}" text-anchor="{anchor}">{name} {}s</text>"#,
            y + 10.0,
            trim(at as f64 / 1000.0)
        );
    }
}

fn column(out: &mut String, run: &PlotRun, col: usize, a: &Axes) {
    let x = 16.0 + col as f64 * COLUMN_W + LEFT;
    let row = |i: usize| TOP + i as f64 * (PANEL_H + GAP);
    let _ = writeln!(out, r#"<g data-run="{}">"#, escape(&run.label));
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" class="run">{}</text>"#,
        x,
        TOP - 24.0,
        escape(&run.label)
    );
    let bucket_ms = BUCKET_MS as f64;
    let tx = |ms: f64| x + PANEL_W * (ms / a.time_ms).min(1.0);

    // ops/s per 100 ms, at each bucket's middle.
    let y0 = row(0);
    frame(out, x, y0, "ops/s (per 100 ms)", a.ops_per_sec, short);
    let per_sec = 1000.0 / bucket_ms;
    let points: Vec<(f64, f64)> = (run.buckets.iter().enumerate())
        .map(|(i, b)| {
            let v = (b.ops as f64 * per_sec / a.ops_per_sec).min(1.0);
            (tx((i as f64 + 0.5) * bucket_ms), y0 + PANEL_H * (1.0 - v))
        })
        .collect();
    polyline(out, "ops", "#1f77b4", &points);
    markers(out, run, x, y0, a.time_ms);
    time_ticks(out, x, y0, a.time_ms);

    // p99 per second.
    let y1 = row(1);
    let (lo, hi) = a.p99_decades;
    let span = f64::from(hi - lo);
    let ticks: Vec<(f64, String)> =
        (lo..=hi).map(|d| (f64::from(d - lo) / span, latency(10f64.powi(d)))).collect();
    frame_with(out, x, y1, "p99 latency (per second, log scale)", &ticks);
    let points: Vec<(f64, f64)> = (run.p99_us.iter().enumerate())
        .map(|(i, &us)| {
            // A second without a success sits on the bottom line.
            let v = if us == 0 { 0.0 } else { ((us as f64).log10() - f64::from(lo)) / span };
            let v = v.clamp(0.0, 1.0);
            (tx((i as f64 + 0.5) * 1000.0), y1 + PANEL_H * (1.0 - v))
        })
        .collect();
    polyline(out, "p99", "#ff7f0e", &points);
    markers(out, run, x, y1, a.time_ms);
    time_ticks(out, x, y1, a.time_ms);

    // Errors per 100 ms.
    let y2 = row(2);
    frame(out, x, y2, "errors (per 100 ms)", a.errors, short);
    let points: Vec<(f64, f64)> = (run.buckets.iter().enumerate())
        .map(|(i, b)| {
            let v = (b.errors as f64 / a.errors).min(1.0);
            (tx((i as f64 + 0.5) * bucket_ms), y2 + PANEL_H * (1.0 - v))
        })
        .collect();
    polyline(out, "errors", "#d62728", &points);
    markers(out, run, x, y2, a.time_ms);
    time_ticks(out, x, y2, a.time_ms);

    // Latency histogram: share of operations per bin, log-scaled latency.
    let y3 = row(3);
    frame(out, x, y3, "latency histogram (share of ops)", a.share, |v| format!("{}%", trim(v)));
    let total = run.latency_bins.iter().sum::<u64>().max(1) as f64;
    let bar_w = PANEL_W / a.bins as f64;
    let _ = writeln!(out, r##"<g data-series="latency" fill="#9467bd">"##);
    for (i, &n) in run.latency_bins.iter().enumerate().filter(|(_, &n)| n > 0) {
        let h = PANEL_H * (n as f64 * 100.0 / total / a.share).min(1.0);
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}"/>"#,
            x + i as f64 * bar_w,
            y3 + PANEL_H - h,
            (bar_w - 0.5).max(0.5)
        );
    }
    let _ = writeln!(out, "</g>");
    let octaves = a.bins as u32 / BINS_PER_OCTAVE;
    let step = (octaves / 5).max(1);
    for o in (0..=octaves).step_by(step as usize) {
        let i = (o * BINS_PER_OCTAVE) as usize;
        let us = bin_floor_us(i);
        let label = latency(us);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{label}</text>"#,
            x + i as f64 * bar_w,
            y3 + PANEL_H + 13.0
        );
    }
    let _ = writeln!(out, "</g>");
}

/// The SVG document: `title` on top, one column per run, same axes for all.
pub fn render(title: &str, runs: &[PlotRun]) -> String {
    let a = axes(runs);
    let width = 32.0 + COLUMN_W * runs.len().max(1) as f64;
    let head = wrap(title, (width / 7.0) as usize);
    let head_h = 18.0 * head.len().max(1) as f64;
    let height = head_h + TOP + 4.0 * (PANEL_H + GAP);
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif">"#
    );
    let _ = writeln!(
        out,
        "<style>.title{{font-size:11px;fill:#333}} .tick{{font-size:9px;fill:#555}} .run{{font-size:14px;font-weight:bold}} .head{{font-size:13px}}</style>"
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="#fff"/>"##);
    for (i, line) in head.iter().enumerate() {
        let _ = writeln!(out, r#"<text x="16" y="{}" class="head">{}</text>"#, 18 + 18 * i, escape(line));
    }
    let _ = writeln!(out, r#"<g transform="translate(0 {head_h:.0})">"#);
    for (col, run) in runs.iter().enumerate() {
        column(&mut out, run, col, &a);
    }
    let _ = writeln!(out, "</g>");
    let _ = writeln!(out, "</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: &str, buckets: usize, fault: Option<u64>) -> PlotRun {
        PlotRun {
            label: label.to_string(),
            buckets: (0..buckets)
                .map(|i| Bucket {
                    ops: if (30..40).contains(&i) { 0 } else { 100 + i as u64 },
                    errors: (i % 7) as u64,
                })
                .collect(),
            p99_us: (0..buckets.div_ceil(10)).map(|s| 500 + 100 * s as u64).collect(),
            latency_bins: vec![0, 0, 3, 10, 50, 0, 7],
            fault_at_ms: fault,
            promoted_at_ms: fault.map(|f| f + 1500),
        }
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{svg}"))
    }

    fn series<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> Vec<roxmltree::Node<'a, 'a>> {
        doc.descendants().filter(|n| n.attribute("data-series") == Some(name)).collect()
    }

    #[test]
    fn one_run_has_every_series_with_one_point_per_bucket_and_the_fault_marked() {
        let svg = render("redwire bench <1 client> & \"friends\"", &[run("redwire", 55, Some(3000))]);
        let doc = parse(&svg);
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let ops = series(&doc, "ops");
        assert_eq!(ops.len(), 1);
        let points = |n: &roxmltree::Node| n.attribute("points").unwrap_or("").split(' ').count();
        assert_eq!(points(&ops[0]), 55);
        assert_eq!(points(&series(&doc, "errors")[0]), 55);
        let p99 = series(&doc, "p99")[0].attribute("points").unwrap().to_string();
        assert_eq!(p99.split(' ').count(), 6);
        // 500 .. 1000 µs on a log axis of one decade: 1000 µs on the top line, 500 µs at 30 %.
        let ys: Vec<f64> = p99.split(' ').map(|p| p.split_once(',').unwrap().1.parse().unwrap()).collect();
        let top = TOP + PANEL_H + GAP;
        assert!((ys[5] - top).abs() < 0.1, "{p99}");
        assert!((ys[0] - (top + PANEL_H * (1.0 - 500f64.log10().fract()))).abs() < 0.1, "{p99}");
        let bars = series(&doc, "latency")[0].children().filter(|c| c.has_tag_name("rect")).count();
        assert_eq!(bars, 4, "one bar per non-empty bin");
        let faults: Vec<_> =
            doc.descendants().filter(|n| n.attribute("data-marker") == Some("fault")).collect();
        assert_eq!(faults.len(), 3, "one fault line per timeline panel");
        // At 3 s of a 6 s axis (55 buckets round up to 6 s).
        let x1: f64 = faults[0].attribute("x1").unwrap().parse().unwrap();
        let expected = 16.0 + LEFT + PANEL_W * 0.5;
        assert!((x1 - expected).abs() < 0.2, "{x1} vs {expected}");
        assert!(doc.descendants().any(|n| n.attribute("data-marker") == Some("promoted")));
        assert!(doc.descendants().any(|n| n.text() == Some("redwire bench <1 client> & \"friends\"")));
        let long = render(
            "a 40 character long part of the title..., and another part as long as that, and more",
            &[],
        );
        let head = parse(&long);
        assert_eq!(head.descendants().filter(|n| n.attribute("class") == Some("head")).count(), 2, "wrapped");
        // Every point lies inside the picture.
        for n in doc.descendants().filter(|n| n.has_tag_name("polyline")) {
            for p in n.attribute("points").unwrap().split(' ') {
                let (px, py) = p.split_once(',').unwrap();
                let (px, py): (f64, f64) = (px.parse().unwrap(), py.parse().unwrap());
                assert!(px >= 0.0 && py >= 0.0 && px < 600.0 && py < 700.0, "{p}");
            }
        }
    }

    #[test]
    fn side_by_side_runs_share_the_axes_and_unmarked_runs_have_no_marker() {
        let runs = [run("redwire", 100, Some(5000)), run("fred", 40, None)];
        let svg = render("failover", &runs);
        let doc = parse(&svg);
        let groups: Vec<_> = doc.descendants().filter(|n| n.attribute("data-run").is_some()).collect();
        assert_eq!(groups.len(), 2);
        let count = |g: &roxmltree::Node, name: &str| {
            g.descendants().filter(|n| n.attribute("data-marker") == Some(name)).count()
        };
        assert_eq!(count(&groups[0], "fault"), 3);
        assert_eq!(count(&groups[1], "fault"), 0);
        assert_eq!(count(&groups[1], "promoted"), 0);
        // Same time axis (10 s): fred's 4 s end at 40 % of the panel width.
        let ops = series(&doc, "ops");
        let last_x = |n: &roxmltree::Node| -> f64 {
            let last = n.attribute("points").unwrap().rsplit(' ').next().unwrap();
            last.split_once(',').unwrap().0.parse().unwrap()
        };
        let fred_start = 16.0 + COLUMN_W + LEFT;
        assert!((last_x(&ops[1]) - (fred_start + PANEL_W * 0.395)).abs() < 0.2);
        assert!((last_x(&ops[0]) - (16.0 + LEFT + PANEL_W * 0.995)).abs() < 0.2);
    }

    #[test]
    fn empty_input_still_renders_a_valid_document() {
        let doc_text = render("nothing", &[]);
        parse(&doc_text);
        let empty = PlotRun {
            label: String::new(),
            buckets: vec![],
            p99_us: vec![],
            latency_bins: vec![],
            fault_at_ms: Some(0),
            promoted_at_ms: None,
        };
        let svg = render("empty", &[empty]);
        let doc = parse(&svg);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(series(&doc, "ops").len(), 1);
    }

    #[test]
    fn axis_maxima_round_up_to_nice_numbers() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(3.2), 5.0);
        assert_eq!(nice(120.0), 200.0);
        assert_eq!(nice(1000.0), 1000.0);
        let mut ticks = String::new();
        time_ticks(&mut ticks, 0.0, 0.0, 20_000.0);
        let labels: Vec<&str> =
            ticks.lines().filter_map(|l| l.split('>').nth(1)?.strip_suffix("</text")).collect();
        assert_eq!(labels, ["0s", "5s", "10s", "15s", "20s"]);
        assert_eq!(short(12_500.0), "12.5k");
        assert_eq!(short(2_000_000.0), "2M");
        assert_eq!(latency(500.0), "500us");
        assert_eq!(latency(2_000.0), "2ms");
        assert_eq!(latency(1_500_000.0), "1.5s");
        assert_eq!(wrap("ab, cd, ef", 6), vec!["ab, cd".to_string(), "ef".to_string()]);
    }
}
