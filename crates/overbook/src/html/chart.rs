//! Line charts as inline SVG, drawn with plotters' SVG backend (which
//! writes text as SVG `<text>`, so no font or system library is needed).

use plotters::prelude::*;

/// Width of every chart, pixels.
pub const CHART_WIDTH: u32 = 960;
/// Height of every chart, pixels.
pub const CHART_HEIGHT: u32 = 250;

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// Its colour.
    pub colour: RGBColor,
    /// Points, x ascending.
    pub points: Vec<(f64, f64)>,
}

/// A chart of lines over simulated time, with fault marks.
#[derive(Clone, Debug)]
pub struct LineChart<'a> {
    /// The x axis' caption (`simulated s`).
    pub x_label: &'a str,
    /// The y axis' caption.
    pub y_label: &'a str,
    /// The end of the x axis (the run's length in the x unit).
    pub x_max: f64,
    /// The lines.
    pub lines: Vec<Line>,
    /// Vertical marks: x and a short label.
    pub marks: Vec<(f64, String)>,
}

/// Lines with at most this many points are drawn with point marks too.
const SPARSE_POINTS: usize = 40;

/// The colour of fault marks.
pub const FAULT_COLOUR: RGBColor = RGBColor(204, 0, 0);

/// Saturated colours that tell lines apart (and that a screenshot test can
/// tell from the grey mesh and black text).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
];

/// The `index`th palette colour, wrapping.
pub fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

impl LineChart<'_> {
    /// The chart as an `<svg>` element.
    pub fn svg(&self) -> Result<String, String> {
        let mut out = String::new();
        draw(self, &mut out).map_err(|err| format!("chart could not be drawn: {err}"))?;
        Ok(out)
    }
}

fn draw(chart: &LineChart, out: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let x_max = if chart.x_max > 0.0 { chart.x_max } else { 1.0 };
    let y_top = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let y_max = if y_top > 0.0 { y_top * 1.12 } else { 1.0 };
    let root = SVGBackend::with_string(out, (CHART_WIDTH, CHART_HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut plot = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    let decimals = if x_max >= 20.0 { 0 } else { 1 };
    plot.configure_mesh()
        .x_label_formatter(&|x| format!("{x:.decimals$}"))
        .y_label_formatter(&|y| format_y(*y))
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()?;
    for (x, label) in &chart.marks {
        // Dashed, so a fault never reads as a red data line.
        plot.draw_series(DashedLineSeries::new(
            vec![(*x, 0.0), (*x, y_max)],
            6,
            4,
            FAULT_COLOUR.stroke_width(2),
        ))?;
        plot.draw_series(std::iter::once(Text::new(
            label.clone(),
            (*x, y_max),
            ("sans-serif", 11).into_font().color(&FAULT_COLOUR),
        )))?;
    }
    for line in &chart.lines {
        let colour = line.colour;
        plot.draw_series(LineSeries::new(
            line.points.iter().copied(),
            colour.stroke_width(2),
        ))?
        .label(line.label.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        // A sparse line (a run that failed after a few buckets) also
        // shows its points, so a single point is visible.
        if line.points.len() <= SPARSE_POINTS {
            plot.draw_series(
                line.points
                    .iter()
                    .map(|&p| Circle::new(p, 4, colour.filled())),
            )?;
        }
    }
    if !chart.lines.is_empty() {
        plot.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(190, 190, 190))
            .label_font(("sans-serif", 12))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// A y label: whole numbers without decimals, small ones with one or two.
fn format_y(y: f64) -> String {
    if y.abs() >= 10.0 || y.fract().abs() < 1e-9 {
        format!("{y:.0}")
    } else if y.abs() >= 1.0 {
        format!("{y:.1}")
    } else {
        format!("{y:.2}")
    }
}
