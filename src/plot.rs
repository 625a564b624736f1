//! `report --plot OUT.png`: a logged run as a chart a person reads at a glance: class
//! areas by date (a line per class, in the class's colour) beside the largest
//! transitions (bars in the colour of the class the land became), with a title, axis
//! labels and a legend of class names. Drawn with `plotters` (bitmap backend); text in
//! DejaVu Sans (Debian's `fonts-dejavu-core`, read at run time from
//! `/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf`, or `TERRATILE_FONT`). The PNG is
//! written under a temporary name beside the output and renamed into place.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Error, Result};
use crate::raster::legend::default_colour;
use crate::store::report::Report;
use crate::write::output::{check_writable, temp_beside};

/// The default font file (Debian's fonts-dejavu-core).
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// What the chart shows, taken from a report (so a test can hold it against the
/// database).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub title: String,
    /// The dates on the x axis, in order.
    pub dates: Vec<String>,
    /// One line per class present at some date: (name, colour, % of the date's valid
    /// area per date; the dates' valid areas differ with clouds and gaps).
    pub classes: Vec<(String, [u8; 3], Vec<f64>)>,
    /// The largest changes, largest first: (label, colour of the class it became, ha).
    pub transitions: Vec<(String, [u8; 3], f64)>,
}

/// The most transition bars drawn.
pub const MAX_BARS: usize = 10;

impl ChartData {
    /// The chart of a run: a series' dates and intervals, or a two-date run's before
    /// and after (a segment run has one date and no transitions). Class colours are
    /// those the run recorded (`class_colors` in its parameters), else the palette.
    pub fn of(r: &Report) -> ChartData {
        let colors: Vec<[u8; 3]> = r.parameters["class_colors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().and_then(crate::infer::model::parse_colour))
                    .collect()
            })
            .unwrap_or_default();
        let colour = |c: usize| colors.get(c).copied().unwrap_or_else(|| default_colour(c));
        let name = |c: usize| r.class_names.get(c).cloned().unwrap_or_default();
        let n = r.class_names.len();
        let (dates, shares, mut transitions): (Vec<String>, Vec<Vec<f64>>, Vec<_>) = match &r.series
        {
            Some(s) => (
                s.dates.iter().map(|d| d.date.clone()).collect(),
                s.dates
                    .iter()
                    .map(|d| d.areas.iter().map(|a| a.2 * 100.0).collect())
                    .collect(),
                s.largest_changes()
                    .into_iter()
                    .map(|(k, f, t, _, m2)| {
                        let i = &s.intervals[k];
                        (
                            format!(
                                "{}..{}: {} -> {}",
                                short_date(&i.from_date),
                                short_date(&i.to_date),
                                name(f),
                                name(t)
                            ),
                            colour(t),
                            m2 / 1e4,
                        )
                    })
                    .collect(),
            ),
            None => (
                r.dates.clone(),
                r.areas
                    .iter()
                    .map(|d| d.iter().map(|a| a.2 * 100.0).collect())
                    .collect(),
                {
                    let mut v: Vec<_> = r
                        .transitions
                        .iter()
                        .filter(|t| t.0 != t.1)
                        .map(|&(f, t, _, m2)| {
                            (format!("{} -> {}", name(f), name(t)), colour(t), m2 / 1e4)
                        })
                        .collect();
                    v.sort_by(|a, b| b.2.total_cmp(&a.2));
                    v
                },
            ),
        };
        transitions.truncate(MAX_BARS);
        let classes = (0..n)
            .filter(|&c| shares.iter().any(|d| d.get(c).is_some_and(|a| *a > 0.0)))
            .map(|c| {
                (
                    name(c),
                    colour(c),
                    shares
                        .iter()
                        .map(|d| d.get(c).copied().unwrap_or(0.0))
                        .collect(),
                )
            })
            .collect();
        let span = match (dates.first(), dates.last()) {
            (Some(a), Some(b)) if dates.len() > 1 => format!(", {a} .. {b}"),
            _ => String::new(),
        };
        ChartData {
            title: format!(
                "terratile run {}: land cover by date and the largest changes{span}",
                r.id
            ),
            dates,
            classes,
            transitions,
        }
    }
}

/// `2008-07-08` -> `2008-07`: short enough for a bar label.
fn short_date(d: &str) -> &str {
    d.get(..7).unwrap_or(d)
}

/// Loads the font (once) and registers it with plotters as "sans-serif".
fn font() -> Result<()> {
    static FONT: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    FONT.get_or_init(|| {
        let path = std::env::var_os("TERRATILE_FONT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_FONT));
        let bytes = std::fs::read(&path).map_err(|e| {
            format!(
                "{}: cannot read the chart's font ({e}); install Debian's fonts-dejavu-core (apt-get install fonts-dejavu-core) or set TERRATILE_FONT to a .ttf file",
                path.display()
            )
        })?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| {
            format!(
                "{}: not a TrueType font; set TERRATILE_FONT to a .ttf file",
                path.display()
            )
        })
    })
    .clone()
    .map_err(Error::Runtime)
}

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Draws `data` into the PNG `out` (1400 x 620 px), atomically.
pub fn draw(data: &ChartData, out: &Path) -> Result<()> {
    if out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        != Some("png".into())
    {
        return Err(Error::output(
            out,
            "is not a .png file name; give --plot a name such as chart.png",
        ));
    }
    check_writable(out)?;
    font()?;
    let tmp = temp_beside(out, "png");
    let result = render(data, &tmp).and_then(|()| {
        std::fs::rename(&tmp, out)
            .map_err(|e| Error::output(out, format!("cannot move the chart into place: {e}")))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn render(data: &ChartData, path: &Path) -> Result<()> {
    let e = |e: String| Error::output(path, format!("cannot draw the chart: {e}"));
    let root = BitMapBackend::new(path, (1400, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
    let root = root
        .titled(&data.title, ("sans-serif", 24))
        .map_err(|x| e(x.to_string()))?;
    let (left, right) = root.split_horizontally(720);
    // class areas by date
    let nd = data.dates.len().max(1);
    let ymax = data
        .classes
        .iter()
        .flat_map(|c| c.2.iter().copied())
        .fold(0.0f64, f64::max)
        .clamp(1e-9, 100.0)
        * 1.1;
    let mut chart = ChartBuilder::on(&left)
        .caption("Class share by date", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.3f64..(nd as f64 - 0.7), 0f64..ymax)
        .map_err(|x| e(x.to_string()))?;
    let dates = data.dates.clone();
    chart
        .configure_mesh()
        .x_labels(nd)
        .x_label_formatter(&|x| {
            let k = x.round();
            if (x - k).abs() < 1e-6 && k >= 0.0 {
                dates.get(k as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc("date")
        .y_desc("share of the date's valid area (%)")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|x| e(x.to_string()))?;
    for (name, c, areas) in &data.classes {
        let colour = rgb(*c);
        let pts: Vec<(f64, f64)> = areas
            .iter()
            .enumerate()
            .map(|(k, a)| (k as f64, *a))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(3)))
            .map_err(|x| e(x.to_string()))?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], colour.filled()));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 5, colour.filled())))
            .map_err(|x| e(x.to_string()))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|x| e(x.to_string()))?;
    // the largest transitions, as horizontal bars (largest on top)
    let nb = data.transitions.len().max(1);
    let xmax = data
        .transitions
        .iter()
        .map(|t| t.2)
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.05;
    let labels: Vec<String> = data.transitions.iter().map(|t| t.0.clone()).collect();
    let mut bars = ChartBuilder::on(&right)
        .caption("Largest changes", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(330)
        .build_cartesian_2d(0f64..xmax, -0.5f64..(nb as f64 - 0.5))
        .map_err(|x| e(x.to_string()))?;
    bars.configure_mesh()
        .disable_y_mesh()
        .y_labels(nb)
        .y_label_formatter(&|y| {
            let k = y.round();
            if (y - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < labels.len() {
                // row 0 at the bottom: the largest bar goes on top
                labels[labels.len() - 1 - k as usize].clone()
            } else {
                String::new()
            }
        })
        .x_desc("area changed (ha)")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|x| e(x.to_string()))?;
    let m = data.transitions.len();
    bars.draw_series(data.transitions.iter().enumerate().map(|(k, t)| {
        let row = (m - 1 - k) as f64;
        Rectangle::new([(0.0, row - 0.35), (t.2, row + 0.35)], rgb(t.1).filled())
    }))
    .map_err(|x| e(x.to_string()))?;
    if data.transitions.is_empty() {
        bars.draw_series(std::iter::once(Text::new(
            "no change",
            (xmax * 0.4, 0.0),
            ("sans-serif", 18),
        )))
        .map_err(|x| e(x.to_string()))?;
    }
    root.present().map_err(|x| e(x.to_string()))?;
    Ok(())
}
