//! Charts drawn on the server as SVG geometry that a template lays out: bars
//! and lines with their coordinates already computed, so the page needs no
//! script, and every chart keeps its numbers for the data table beside it.

/// Drawing area, in SVG user units (the element scales to its container).
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 240;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

/// One data series: a name, a colour (a presentation attribute, the CSP
/// forbids inline styles) and a value per category.
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub values: Vec<u64>,
}

pub struct Bar {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    pub colour: &'static str,
    /// Shown as the bar's tooltip (an SVG `<title>`).
    pub label: String,
}

pub struct Tick {
    pub y: String,
    pub value: u64,
}

pub struct Label {
    pub x: String,
    pub text: String,
}

pub struct Line {
    pub points: String,
    /// A marker per value, so a single month still shows.
    pub dots: Vec<(String, String)>,
    pub colour: &'static str,
    pub name: String,
}

pub struct Legend {
    pub y: String,
    pub colour: &'static str,
    pub name: String,
}

/// A chart ready to lay out.
pub struct Chart {
    pub id: String,
    pub title: String,
    pub bars: Vec<Bar>,
    pub lines: Vec<Line>,
    pub ticks: Vec<Tick>,
    pub labels: Vec<Label>,
    pub legend: Vec<Legend>,
    /// The same numbers as a table: the categories, then one row per series.
    pub categories: Vec<String>,
    pub series: Vec<(String, Vec<u64>)>,
    /// x of the axis and baseline y, for the axis lines.
    pub x0: String,
    pub x1: String,
    pub y0: String,
}

fn n(v: f64) -> String {
    format!("{v:.1}")
}

/// A round maximum for the axis: 1, 2 or 5 times a power of ten.
fn nice_max(max: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max.max(1) {
                return m * step;
            }
        }
        step *= 10;
    }
}

struct Frame {
    max: u64,
    plot_w: f64,
    plot_h: f64,
}

impl Frame {
    fn new(series: &[Series]) -> Frame {
        let max = series.iter().flat_map(|s| s.values.iter()).copied().max();
        Frame {
            max: nice_max(max.unwrap_or(0)),
            plot_w: WIDTH as f64 - LEFT - RIGHT,
            plot_h: HEIGHT as f64 - TOP - BOTTOM,
        }
    }

    fn y(&self, v: u64) -> f64 {
        TOP + self.plot_h * (1.0 - v as f64 / self.max as f64)
    }

    fn ticks(&self) -> Vec<Tick> {
        (0..=4)
            .map(|i| self.max * i / 4)
            .map(|v| Tick {
                y: n(self.y(v)),
                value: v,
            })
            .collect()
    }
}

/// Labels under the categories, thinned so at most about 12 show.
fn labels(categories: &[String], slot: f64) -> Vec<Label> {
    let every = categories.len().div_ceil(12).max(1);
    categories
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, c)| Label {
            x: n(LEFT + slot * (i as f64 + 0.5)),
            text: c.clone(),
        })
        .collect()
}

fn legend(series: &[Series]) -> Vec<Legend> {
    series
        .iter()
        .enumerate()
        .map(|(i, s)| Legend {
            y: n(TOP + 4.0 + 16.0 * i as f64),
            colour: s.colour,
            name: s.name.clone(),
        })
        .collect()
}

fn base(id: &str, title: &str, categories: Vec<String>, series: &[Series], f: &Frame) -> Chart {
    Chart {
        id: id.into(),
        title: title.into(),
        bars: Vec::new(),
        lines: Vec::new(),
        ticks: f.ticks(),
        labels: Vec::new(),
        legend: legend(series),
        series: series
            .iter()
            .map(|s| (s.name.clone(), s.values.clone()))
            .collect(),
        x0: n(LEFT),
        x1: n(WIDTH as f64 - RIGHT),
        y0: n(TOP + f.plot_h),
        categories,
    }
}

/// Bars side by side per category, one per series.
pub fn bars(id: &str, title: &str, categories: Vec<String>, series: &[Series]) -> Chart {
    let f = Frame::new(series);
    let slot = f.plot_w / categories.len().max(1) as f64;
    let w = slot * 0.8 / series.len().max(1) as f64;
    let mut c = base(id, title, categories, series, &f);
    for (k, s) in series.iter().enumerate() {
        for (i, v) in s.values.iter().enumerate() {
            let y = f.y(*v);
            c.bars.push(Bar {
                x: n(LEFT + slot * i as f64 + slot * 0.1 + w * k as f64),
                y: n(y),
                w: n(w),
                h: n(TOP + f.plot_h - y),
                colour: s.colour,
                label: format!("{}, {}: {v}", c.categories[i], s.name),
            });
        }
    }
    c.labels = labels(&c.categories, slot);
    c
}

/// One polyline per series through the categories' centres.
pub fn lines(id: &str, title: &str, categories: Vec<String>, series: &[Series]) -> Chart {
    let f = Frame::new(series);
    let slot = f.plot_w / categories.len().max(1) as f64;
    let mut c = base(id, title, categories, series, &f);
    c.lines = series
        .iter()
        .map(|s| Line {
            points: s
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{},{}", n(LEFT + slot * (i as f64 + 0.5)), n(f.y(*v))))
                .collect::<Vec<_>>()
                .join(" "),
            dots: s
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| (n(LEFT + slot * (i as f64 + 0.5)), n(f.y(*v))))
                .collect(),
            colour: s.colour,
            name: s.name.clone(),
        })
        .collect();
    c.labels = labels(&c.categories, slot);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round_and_bars_scale_to_them() {
        assert_eq!(
            [0, 1, 3, 7, 10, 11, 180].map(nice_max),
            [1, 1, 5, 10, 10, 20, 200]
        );
        let s = [Series {
            name: "sent".into(),
            colour: "#000",
            values: vec![5, 10],
        }];
        let c = bars("c", "t", vec!["a".into(), "b".into()], &s);
        let h: Vec<f64> = c.bars.iter().map(|b| b.h.parse().unwrap()).collect();
        assert!((h[1] - 2.0 * h[0]).abs() < 0.2, "{h:?}");
        assert_eq!(c.ticks.last().unwrap().value, 10);
        assert_eq!(c.bars[1].label, "b, sent: 10");
    }
}
