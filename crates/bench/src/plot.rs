//! Recall against QPS, ann-benchmarks style: one line per library/index/mode, y = QPS on a log scale, x = recall@k
//! on a scale that spreads high recall (the position is `-log10(1 - recall)`, labelled in recall: 0.9, 0.95,
//! 0.99, 0.999 sit at equal-ish steps instead of being squeezed against the right edge), with the 0.95 target
//! marked.
//!
//! Drawn with plotters twice from the same code: to SVG (text as SVG text) and to an RGB bitmap encoded as PNG.
//! Text layout needs a TrueType font, loaded at run time from [`FONT_PATHS`] (Debian `fonts-dejavu-core`) or
//! from the file named by `VSEARCH_FONT`.

use crate::error::{BenchError, Result};
use crate::files::write_atomic;
use crate::results::{Point, QueryMode, Results};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// Font files tried for the PNG, in order.
pub const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

const SIZE: (u32, u32) = (1240, 650);
/// Width of the legend panel beside the recall/QPS chart.
const LEGEND_WIDTH: u32 = 240;

/// The recall target marked on the plot.
pub const TARGET_RECALL: f64 = 0.95;
/// Recall is drawn at most this close to 1 (a recall of 1.0 sits at `-log10(1e-4)` = 4).
const MAX_NINES: f64 = 4.0;

/// Position of `recall` on the x axis: `-log10(1 - recall)`, so 0.9 -> 1, 0.99 -> 2, 0.999 -> 3.
pub fn recall_x(recall: f64) -> f64 {
    (-(1.0 - recall.clamp(0.0, 1.0))
        .max(10f64.powf(-MAX_NINES))
        .log10())
    .max(0.0)
}

/// The x positions of the recall ticks inside `range`: 0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, and 1
/// (drawn at the axis' last position).
fn recall_ticks(range: (f64, f64)) -> Vec<f64> {
    [0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 1.0]
        .iter()
        .map(|&r| recall_x(r))
        .filter(|x| (range.0..=range.1).contains(x))
        .collect()
}

/// The label of the tick at `x`: the shortest decimal that names its recall (0.9, 0.95, 0.999), `1` at
/// the end of the axis.
fn tick_label(x: f64) -> String {
    if x >= MAX_NINES - 1e-9 {
        return "1".to_string();
    }
    let r = x_recall(x);
    (1..=6)
        .map(|d| format!("{r:.d$}"))
        .find(|t| t.parse::<f64>().is_ok_and(|p| (p - r).abs() < 1e-9))
        .unwrap_or_else(|| format!("{r:.4}"))
}

/// The recall at x position `x` (the inverse of [`recall_x`]).
pub fn x_recall(x: f64) -> f64 {
    1.0 - 10f64.powf(-x)
}

/// Distinct line colours (Tableau 10).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A series name without its query mode, and whether the series is batched (`"vsearch/hnsw batch"` gives
/// `("vsearch/hnsw", true)`).
fn series_base(name: &str) -> (&str, bool) {
    match name.rsplit_once(' ') {
        Some((base, mode)) => (base, mode == QueryMode::Batch.to_string()),
        None => (name, false),
    }
}

fn plot_err<E: std::fmt::Debug>(e: E) -> BenchError {
    BenchError::Plot {
        reason: format!("{e:?}"),
    }
}

/// Series as (name, points sorted by recall) and the axis ranges.
struct Layout {
    series: Vec<(String, Vec<(f64, f64)>)>,
    x: (f64, f64),
    y: (f64, f64),
}

fn layout(points: &[Point]) -> Layout {
    let mut names: Vec<String> = points.iter().map(Point::series).collect();
    names.sort();
    names.dedup();
    let series: Vec<(String, Vec<(f64, f64)>)> = names
        .into_iter()
        .map(|n| {
            let mut pts: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.series() == n && p.qps > 0.0)
                .map(|p| (recall_x(p.recall), p.qps))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
            (n, pts)
        })
        .collect();
    let all: Vec<(f64, f64)> = series.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    // From the lowest recall drawn (at most 0.5) to the highest (at least 0.999).
    let xmin = all.iter().map(|p| p.0).fold(recall_x(0.5), f64::min);
    let xmax = all.iter().map(|p| p.0).fold(recall_x(0.999), f64::max);
    let ymin = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let ymax = all.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let (ymin, ymax) = if ymin.is_finite() && ymax > 0.0 {
        (
            10f64.powf(ymin.log10().floor()),
            10f64.powf(ymax.log10().ceil()).max(ymin * 10.0),
        )
    } else {
        (1.0, 10.0)
    };
    Layout {
        series,
        x: (xmin, (xmax + 0.1).min(MAX_NINES + 0.1)),
        y: (ymin, ymax),
    }
}

/// Keeps, in recall order, the points not beaten by a point with both higher recall and higher QPS (the
/// Pareto front ann-benchmarks draws).
pub fn pareto(sorted_by_recall: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut front: Vec<(f64, f64)> = Vec::new();
    let mut best_qps = f64::NEG_INFINITY;
    for &(r, q) in sorted_by_recall.iter().rev() {
        if q > best_qps {
            front.push((r, q));
            best_qps = q;
        }
    }
    front.reverse();
    front
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    k: usize,
    lay: &Layout,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_err)?;
    let (width, _) = root.dim_in_pixel();
    let (plot_area, legend_area) = root.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    // The legend: one row per series, drawn beside the chart so that it hides no point.
    let mut legend: Vec<(String, RGBColor, bool)> = Vec::new();
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(lay.x.0..lay.x.1, (lay.y.0..lay.y.1).log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(format!("Recall@{k} (spread as -log10(1 - recall))"))
        .y_desc("Queries per second (log scale)")
        .y_label_formatter(&|v| format!("{v:.0}"))
        // The x ticks are drawn below at chosen recalls (0.9, 0.95, 0.99 ...), not at plotters' round steps.
        .x_labels(0)
        .disable_x_mesh()
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(plot_err)?;
    // Recall ticks: a light line and the recall written above the axis.
    let tick_y = lay.y.0 * (lay.y.1 / lay.y.0).powf(0.015);
    for x in recall_ticks(lay.x) {
        let light = RGBColor(215, 215, 215);
        chart
            .draw_series(LineSeries::new(vec![(x, lay.y.0), (x, lay.y.1)], light))
            .map_err(plot_err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                tick_label(x),
                (x, tick_y),
                ("sans-serif", 13).into_font(),
            )))
            .map_err(plot_err)?;
    }
    // The target: a dashed vertical line at recall 0.95.
    let tx = recall_x(TARGET_RECALL);
    if (lay.x.0..=lay.x.1).contains(&tx) {
        let grey = RGBColor(90, 90, 90);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(tx, lay.y.0), (tx, lay.y.1)],
                6,
                4,
                grey.stroke_width(1),
            ))
            .map_err(plot_err)?;
        legend.push((format!("recall {TARGET_RECALL} target"), grey, true));
    }
    // One colour per library and index kind; its batched series dashed, with hollow markers.
    let mut bases: Vec<&str> = lay.series.iter().map(|(n, _)| series_base(n).0).collect();
    bases.dedup();
    for (name, pts) in &lay.series {
        let (base, batched) = series_base(name);
        let i = bases.iter().position(|b| *b == base).unwrap_or(0);
        let color = COLORS[i % COLORS.len()];
        let front = pareto(pts);
        let line = color.stroke_width(2);
        if batched {
            chart
                .draw_series(DashedLineSeries::new(front.iter().copied(), 7, 4, line))
                .map_err(plot_err)?;
        } else {
            chart
                .draw_series(LineSeries::new(front.iter().copied(), line))
                .map_err(plot_err)?;
        }
        let marker = if batched {
            color.stroke_width(1)
        } else {
            color.filled()
        };
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, marker)))
            .map_err(plot_err)?;
        legend.push((name.clone(), color, batched));
    }
    for (row, (label, color, dashed)) in legend.iter().enumerate() {
        let y = 60 + 22 * row as i32;
        let segments: &[(i32, i32)] = if *dashed {
            &[(8, 15), (20, 27), (32, 38)]
        } else {
            &[(8, 38)]
        };
        for &(a, b) in segments {
            legend_area
                .draw(&PathElement::new(
                    vec![(a, y), (b, y)],
                    color.stroke_width(2),
                ))
                .map_err(plot_err)?;
        }
        legend_area
            .draw(&Text::new(
                label.clone(),
                (46, y - 8),
                ("sans-serif", 14).into_font(),
            ))
            .map_err(plot_err)?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

fn title(r: &Results) -> String {
    format!(
        "{} ({} base, {} queries, {}-d), k={}, {} thread{}",
        r.dataset.name,
        r.dataset.n_base,
        r.dataset.n_queries,
        r.dataset.dim,
        r.k,
        r.threads,
        if r.threads == 1 { "" } else { "s" }
    )
}

/// The plot as an SVG document.
pub fn svg(r: &Results) -> Result<String> {
    // Layout measures text, so the SVG needs the font too.
    register_font()?;
    let lay = layout(&r.points);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root, &title(r), r.k, &lay)?;
    }
    Ok(out)
}

static FONT: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Registers the "sans-serif" font plotters measures and draws text with ($VSEARCH_FONT, else the DejaVu or
/// Liberation fonts Debian ships); once per process.
pub fn register_font() -> Result<()> {
    FONT.get_or_init(|| {
        let candidates: Vec<String> = std::env::var("VSEARCH_FONT")
            .ok()
            .into_iter()
            .chain(FONT_PATHS.iter().map(|s| s.to_string()))
            .collect();
        for path in &candidates {
            if let Ok(bytes) = std::fs::read(path) {
                // plotters keeps registered fonts for the life of the process.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                    .map_err(|_| format!("{path}: not a usable TrueType font"));
            }
        }
        Err(format!(
            "no font for the PNG plot: tried {}; install Debian's fonts-dejavu-core or set VSEARCH_FONT to a .ttf file",
            candidates.join(", ")
        ))
    })
    .clone()
    .map_err(|reason| BenchError::Plot { reason })
}

/// The plot as PNG bytes.
pub fn png(r: &Results) -> Result<Vec<u8>> {
    register_font()?;
    let lay = layout(&r.points);
    let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw(&root, &title(r), r.k, &lay)?;
    }
    let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, rgb).ok_or_else(|| BenchError::Plot {
        reason: "bitmap buffer has the wrong size".into(),
    })?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(plot_err)?;
    Ok(out.into_inner())
}

/// Writes `recall_qps.svg` and `recall_qps.png` into `dir`.
pub fn write(r: &Results, dir: &Path) -> Result<()> {
    write_atomic(&dir.join("recall_qps.svg"), svg(r)?.as_bytes())?;
    write_atomic(&dir.join("recall_qps.png"), &png(r)?)
}

/// A precision/recall curve to draw: its name, its points `(recall, precision)`, and a point to mark
/// (e.g. the default threshold) with its label.
#[derive(Debug, Clone)]
pub struct PrSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub marked: Option<((f64, f64), String)>,
}

fn draw_pr<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[PrSeries],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..1.02, 0f64..1.02)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("Recall")
        .y_desc("Precision")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(plot_err)?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if let Some((at, label)) = &s.marked {
            chart
                .draw_series(std::iter::once(Circle::new(*at, 6, color.filled())))
                .map_err(plot_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (at.0 - 0.25, at.1 - 0.04),
                    ("sans-serif", 13).into_font(),
                )))
                .map_err(plot_err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Writes a precision/recall plot of `series` (same style and font as the recall/QPS plot) to `svg` and,
/// as PNG, to `png`.
pub fn write_pr(title: &str, series: &[PrSeries], svg: &Path, png: &Path) -> Result<()> {
    register_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw_pr(&root, title, series)?;
    }
    write_atomic(svg, text.as_bytes())?;
    let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw_pr(&root, title, series)?;
    }
    let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, rgb).ok_or_else(|| BenchError::Plot {
        reason: "bitmap buffer has the wrong size".into(),
    })?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(plot_err)?;
    write_atomic(png, &out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_recall_is_spread_and_the_axis_inverts() {
        for (r, x) in [
            (0.9, 1.0),
            (0.99, 2.0),
            (0.999, 3.0),
            (1.0, 4.0),
            (0.0, 0.0),
        ] {
            assert!((recall_x(r) - x).abs() < 1e-9, "{r} -> {}", recall_x(r));
        }
        for r in [0.5, 0.9, 0.95, 0.99, 0.9995] {
            assert!((x_recall(recall_x(r)) - r).abs() < 1e-12);
        }
        assert!(recall_x(0.96) - recall_x(0.95) > recall_x(0.51) - recall_x(0.5));
    }
}
