//! The plan as an SVG Gantt chart: one row per place, one bar per appointment coloured by
//! nurse. Pure: returns the document as a string.

use std::fmt::Write as _;

use crate::model::{Instance, Plan};

// ---------------------------------------------------------------------------------------
// Gantt chart

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Gantt chart: one row per place, one bar per appointment coloured by nurse, set-up and
/// take-down shaded darker, the close of day as a red line.
pub fn gantt_svg(inst: &Instance, plan: &Plan) -> String {
    let valid: Vec<_> = plan
        .assignments
        .iter()
        .filter(|a| {
            a.appointment < inst.appointments.len()
                && a.chair < inst.chairs.len()
                && a.nurse < inst.nurses.len()
        })
        .collect();
    let t0 = inst.open.minutes() / 60 * 60;
    let last = valid
        .iter()
        .map(|a| a.end(inst).minutes())
        .max()
        .unwrap_or(0);
    let t1 = last.max(inst.close.minutes()).div_ceil(60) * 60;
    let (left, top, row_h, px_per_min) = (90.0, 30.0, 18.0, 1.2);
    let width = left + f64::from(t1 - t0) * px_per_min + 20.0;
    let height = top + row_h * inst.chairs.len() as f64 + 30.0;
    let x = |m: u32| left + f64::from(m.saturating_sub(t0)) * px_per_min;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="10">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="14" font-size="12">Infusion-centre plan: places × time; colour = nurse</text>"#
    );
    let mut h = t0;
    while h <= t1 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3:02}:00</text>"##,
            x(h),
            height - 25.0,
            height - 12.0,
            h / 60
        );
        h += 60;
    }
    for (i, c) in inst.chairs.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="4" y="{:.1}">{} ({})</text>"#,
            y + row_h * 0.7,
            xml_escape(&c.id),
            c.kind.as_str()
        );
    }
    let n_nurses = inst.nurses.len().max(1);
    for a in valid {
        let ap = &inst.appointments[a.appointment];
        let y = top + row_h * a.chair as f64 + 2.0;
        let (s0, e0) = (a.start.minutes(), a.end(inst).minutes());
        let hue = (a.nurse * 360 / n_nurses + (a.nurse % 2) * 180 / n_nurses) % 360;
        let _ = writeln!(
            s,
            r#"<g><title>{} · {} · nurse {} · {}–{}</title><rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="hsl({hue},60%,70%)" stroke="hsl({hue},60%,35%)"/>"#,
            xml_escape(&ap.id),
            xml_escape(&inst.chairs[a.chair].id),
            xml_escape(&inst.nurses[a.nurse].id),
            a.start,
            a.end(inst),
            x(s0),
            f64::from(e0 - s0) * px_per_min,
            row_h - 4.0
        );
        for (w0, w1) in [(s0, s0 + ap.setup_minutes), (e0 - ap.takedown_minutes, e0)] {
            if w1 > w0 {
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="hsl({hue},60%,40%)"/>"#,
                    x(w0),
                    f64::from(w1 - w0) * px_per_min,
                    row_h - 4.0
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text></g>"#,
            x(s0) + 2.0,
            y + row_h * 0.6,
            xml_escape(&ap.id)
        );
    }
    let _ = writeln!(
        s,
        r#"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1:.1}" stroke="red" stroke-width="1.5"/><text x="{0:.1}" y="{2}" fill="red">close</text>"#,
        x(inst.close.minutes()),
        height - 25.0,
        top - 3.0
    );
    s.push_str("</svg>\n");
    s
}
