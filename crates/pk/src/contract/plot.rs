//! The SVG concentration-time plot: the prediction as a line, measured levels as circles,
//! the target band shaded. Hand-written SVG (no plotting dependency); every text escaped.

use std::fmt::Write as _;

use infusio_core::units::format_number;

use crate::linear::{Disposition, RawDose};

/// What one plot shows.
pub struct Plot<'a> {
    pub title: &'a str,
    pub time_unit: &'a str,
    pub conc_unit: &'a str,
    pub curve: &'a [(f64, f64)],
    pub observations: &'a [(f64, f64)],
    /// Low, high, label.
    pub band: Option<(f64, f64, &'a str)>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A "nice" axis step (1, 2 or 5 × 10^k) giving about five ticks.
fn step(range: f64) -> f64 {
    let raw = (range / 5.0).max(1e-12);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    }
}

const W: f64 = 800.0;
const H: f64 = 450.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// The data ranges and their mapping to the drawing.
struct Frame {
    x0: f64,
    x1: f64,
    y1: f64,
    ystep: f64,
}

impl Frame {
    fn new(p: &Plot) -> Frame {
        let xs = p
            .curve
            .iter()
            .map(|c| c.0)
            .chain(p.observations.iter().map(|o| o.0));
        let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if !x0.is_finite() {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let mut y1 = p
            .curve
            .iter()
            .map(|c| c.1)
            .chain(p.observations.iter().map(|o| o.1))
            .fold(0.0, f64::max);
        if let Some((_, hi, _)) = p.band {
            y1 = y1.max(hi);
        }
        let ystep = step(y1.max(1e-9) * 1.1);
        let y1 = (y1 * 1.1 / ystep).ceil().max(1.0) * ystep;
        Frame { x0, x1, y1, ystep }
    }

    fn sx(&self, x: f64) -> f64 {
        LEFT + (x - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)
    }

    fn sy(&self, y: f64) -> f64 {
        H - BOTTOM - y / self.y1 * (H - TOP - BOTTOM)
    }
}

/// A hand-written SVG: prediction line, observations as circles, target band shaded.
pub fn plot(p: &Plot) -> String {
    let f = Frame::new(p);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        escape(p.title)
    );
    if let Some((lo, hi, label)) = p.band {
        draw_band(&mut s, &f, lo, hi, label);
    }
    draw_axes(&mut s, &f, p);
    draw_data(&mut s, &f, p);
    s.push_str("</svg>\n");
    s
}

fn draw_band(s: &mut String, f: &Frame, lo: f64, hi: f64, label: &str) {
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{:.2}" width="{:.2}" height="{:.2}" fill="#2e7d32" fill-opacity="0.15"><title>{}</title></rect>"##,
        f.sy(hi),
        W - LEFT - RIGHT,
        (f.sy(lo) - f.sy(hi)).max(0.0),
        escape(label)
    );
    let _ = writeln!(
        s,
        r##"<text x="{:.2}" y="{:.2}" text-anchor="end" fill="#2e7d32">{}</text>"##,
        W - RIGHT - 4.0,
        f.sy(hi) - 4.0,
        escape(label)
    );
}

/// Axes, ticks and axis titles.
fn draw_axes(s: &mut String, f: &Frame, p: &Plot) {
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM
    );
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}" stroke="black"/>"#,
        H - BOTTOM
    );
    let xstep = step(f.x1 - f.x0);
    let mut t = (f.x0 / xstep).ceil() * xstep;
    while t <= f.x1 + 1e-9 {
        let _ = writeln!(
            s,
            r#"<line x1="{0:.2}" y1="{1}" x2="{0:.2}" y2="{2}" stroke="black"/><text x="{0:.2}" y="{3}" text-anchor="middle">{4}</text>"#,
            f.sx(t),
            H - BOTTOM,
            H - BOTTOM + 5.0,
            H - BOTTOM + 18.0,
            format_number(t, 2)
        );
        t += xstep;
    }
    let mut c = 0.0;
    while c <= f.y1 + 1e-9 {
        let _ = writeln!(
            s,
            r#"<line x1="{0}" y1="{1:.2}" x2="{2}" y2="{1:.2}" stroke="black"/><text x="{3}" y="{4:.2}" text-anchor="end">{5}</text>"#,
            LEFT - 5.0,
            f.sy(c),
            LEFT,
            LEFT - 8.0,
            f.sy(c) + 4.0,
            format_number(c, 2)
        );
        c += f.ystep;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">time ({})</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0,
        escape(p.time_unit)
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">concentration ({})</text>"#,
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0,
        escape(p.conc_unit)
    );
}

/// The prediction line, the observations and the legend.
fn draw_data(s: &mut String, f: &Frame, p: &Plot) {
    if !p.curve.is_empty() {
        let pts: Vec<String> = p
            .curve
            .iter()
            .map(|(x, y)| format!("{:.2},{:.2}", f.sx(*x), f.sy(*y)))
            .collect();
        let _ = writeln!(
            s,
            r##"<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{}"><title>prediction</title></polyline>"##,
            pts.join(" ")
        );
    }
    for (x, y) in p.observations {
        let _ = writeln!(
            s,
            r##"<circle cx="{:.2}" cy="{:.2}" r="5" fill="#c62828"><title>observed {} {} at {} {}</title></circle>"##,
            f.sx(*x),
            f.sy(*y),
            format_number(*y, 2),
            escape(p.conc_unit),
            format_number(*x, 2),
            escape(p.time_unit)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" fill="#1565c0">— prediction</text><text x="{}" y="{}" fill="#c62828">● observed</text>"##,
        LEFT + 10.0,
        TOP + 4.0,
        LEFT + 110.0,
        TOP + 4.0
    );
}

/// The curve of `d` after `doses` from `t0` to `t1`: 401 even points plus every dose start
/// and infusion end inside the range, so that peaks are drawn where they are. Empty if the
/// model refuses the doses.
pub fn sample_curve(d: &Disposition, doses: &[RawDose], t0: f64, t1: f64) -> Vec<(f64, f64)> {
    let mut ts: Vec<f64> = (0..=400)
        .map(|i| t0 + (t1 - t0) * i as f64 / 400.0)
        .collect();
    // Include every dose start and infusion end so that peaks are drawn where they are.
    for x in doses {
        for t in [x.time, x.time + x.duration] {
            if t >= t0 && t <= t1 {
                ts.push(t);
            }
        }
    }
    ts.sort_by(f64::total_cmp);
    let mut c = vec![0.0; ts.len()];
    if d.simulate(doses, &ts, &mut c, None).is_err() {
        return Vec::new();
    }
    ts.into_iter().zip(c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plot_escapes_its_text_and_draws_every_observation() {
        let svg = plot(&Plot {
            title: "a <b> & c",
            time_unit: "h",
            conc_unit: "mg/L",
            curve: &[(0.0, 0.0), (1.0, 10.0), (12.0, 2.0)],
            observations: &[(2.0, 9.0), (11.5, 2.5)],
            band: Some((16.7, 25.0, "AUC24 <400-600>")),
        });
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert!(svg.contains("AUC24 &lt;400-600&gt;"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
