//! Code 128 (ISO/IEC 15417), code set B, rendered as SVG: the bag identifier on the
//! preparation label.
//!
//! A symbol is: quiet zone, start B (104), one symbol character per input character (value =
//! ASCII code − 32), the modulo-103 check character (start value plus each character's value
//! times its position, from 1), the stop pattern, quiet zone. Every symbol character is three
//! bars and three spaces, 11 modules in all; the stop is 13 modules (four bars, three
//! spaces). The quiet zone is 10 modules on either side, the minimum ISO/IEC 15417 asks for.
//!
//! The SVG's `viewBox` is in modules, so a bar's `x` and `width` are whole numbers a reader
//! (a test, a browser test) can turn back into the width sequence and decode with
//! [`decode_widths`].

use thiserror::Error;

/// Bar and space widths, in modules, of the symbol values 0 to 106 (106 is the stop, with its
/// final two-module bar). ISO/IEC 15417, table 1.
const PATTERNS: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];

const START_B: usize = 104;
const STOP: usize = 106;
/// Modules of quiet zone on either side.
pub const QUIET_ZONE_MODULES: u32 = 10;

/// Why a text cannot be encoded, or a width sequence not decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Code128Error {
    #[error(
        "character {character:?} at position {position} is outside code set B (ASCII 32 to 126)"
    )]
    Character { character: char, position: usize },
    #[error("nothing to encode: the text is empty")]
    Empty,
    #[error("not a Code 128 code set B symbol: {0}")]
    Decode(String),
}

/// The symbol values of `text` in code set B: start, data, check character, stop.
pub fn values(text: &str) -> Result<Vec<usize>, Code128Error> {
    if text.is_empty() {
        return Err(Code128Error::Empty);
    }
    let mut out = vec![START_B];
    for (position, character) in text.chars().enumerate() {
        let code = character as u32;
        if !(32..=126).contains(&code) {
            return Err(Code128Error::Character {
                character,
                position,
            });
        }
        out.push((code - 32) as usize);
    }
    let check = out
        .iter()
        .enumerate()
        .map(|(i, v)| i.max(1) * v)
        .sum::<usize>()
        % 103;
    out.push(check);
    out.push(STOP);
    Ok(out)
}

/// The widths, in modules, of the symbol's bars and spaces in order (bar first), without the
/// quiet zones.
pub fn widths(text: &str) -> Result<Vec<u32>, Code128Error> {
    Ok(values(text)?
        .into_iter()
        .flat_map(|v| PATTERNS[v].bytes().map(|b| u32::from(b - b'0')))
        .collect())
}

/// The value whose pattern is these six widths.
fn value_of(six: &[u32]) -> Option<usize> {
    PATTERNS[..STOP].iter().position(|p| {
        p.bytes()
            .map(|b| u32::from(b - b'0'))
            .eq(six.iter().copied())
    })
}

/// Reads a width sequence (bar first, quiet zones removed) back into its text, checking the
/// start character, the check character and the stop pattern.
pub fn decode_widths(widths: &[u32]) -> Result<String, Code128Error> {
    let fail = |why: &str| Err(Code128Error::Decode(why.to_string()));
    if widths.len() < 6 * 3 + 7 || !(widths.len() - 7).is_multiple_of(6) {
        return fail("the number of bars and spaces does not fit start, data, check and stop");
    }
    let (body, stop) = widths.split_at(widths.len() - 7);
    if stop.iter().map(|w| w.to_string()).collect::<String>() != PATTERNS[STOP] {
        return fail("no stop pattern at the end");
    }
    let symbol_values = body
        .chunks(6)
        .map(value_of)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Code128Error::Decode("a symbol character matches no pattern".into()))?;
    let [start, data @ .., check] = symbol_values.as_slice() else {
        return fail("too short");
    };
    if *start != START_B {
        return fail("does not start with start B");
    }
    let sum = START_B
        + data
            .iter()
            .enumerate()
            .map(|(i, v)| (i + 1) * v)
            .sum::<usize>();
    if sum % 103 != *check {
        return fail("the check character does not match");
    }
    data.iter()
        .map(|v| {
            char::from_u32(*v as u32 + 32)
                .filter(|_| *v < 95)
                .ok_or_else(|| Code128Error::Decode(format!("value {v} is a control symbol")))
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The symbol's geometry in modules: the total width with both quiet zones, and each bar's
/// `(x, width)` from the left edge. A renderer draws these as black rectangles.
pub fn bars(text: &str) -> Result<(u32, Vec<(u32, u32)>), Code128Error> {
    let widths = widths(text)?;
    let total = widths.iter().sum::<u32>() + 2 * QUIET_ZONE_MODULES;
    let mut x = QUIET_ZONE_MODULES;
    let mut out = Vec::with_capacity(widths.len() / 2 + 1);
    for (i, w) in widths.iter().enumerate() {
        if i % 2 == 0 {
            out.push((x, *w));
        }
        x += w;
    }
    Ok((total, out))
}

/// The symbol as an SVG element: black `rect`s on a white background, the `viewBox` in
/// modules (bars at whole-module `x` and `width`), the text printed below in human-readable
/// form. `module_px` is the width of one module on screen, `bar_height_modules` the bars'
/// height in modules.
pub fn svg(text: &str, module_px: u32, bar_height_modules: u32) -> Result<String, Code128Error> {
    let (total, bars) = bars(text)?;
    let text_height = 12;
    let height = bar_height_modules + text_height;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="barcode code128" data-symbology="code128" role="img" aria-label="Code 128 barcode {label}" viewBox="0 0 {total} {height}" width="{w}" height="{h}" shape-rendering="crispEdges"><rect class="background" x="0" y="0" width="{total}" height="{height}" fill="white"/>"#,
        label = escape(text),
        w = total * module_px,
        h = height * module_px,
    );
    for (x, w) in bars {
        out.push_str(&format!(
            r#"<rect class="bar" x="{x}" y="0" width="{w}" height="{bar_height_modules}" fill="black"/>"#
        ));
    }
    out.push_str(&format!(
        r#"<text x="{mid}" y="{ty}" font-family="monospace" font-size="9" text-anchor="middle">{t}</text></svg>"#,
        mid = total / 2,
        ty = bar_height_modules + 10,
        t = escape(text),
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the bars of an SVG made by [`svg`] back into widths: bar `x` and `width`
    /// attributes, the spaces being the gaps between bars.
    fn widths_from_svg(svg: &str) -> Vec<u32> {
        let attr = |tag: &str, name: &str| -> u32 {
            let key = format!(" {name}=\"");
            let start = tag.find(&key).expect("attribute") + key.len();
            let end = start + tag[start..].find('"').expect("closing quote");
            tag[start..end].parse().expect("whole modules")
        };
        let bars: Vec<(u32, u32)> = svg
            .split("<rect ")
            .skip(1)
            .filter(|t| t.starts_with("class=\"bar\""))
            .map(|t| (attr(t, "x"), attr(t, "width")))
            .collect();
        let mut out = Vec::new();
        for (i, (x, w)) in bars.iter().enumerate() {
            if i > 0 {
                let (px, pw) = bars[i - 1];
                out.push(x - (px + pw));
            }
            out.push(*w);
        }
        out
    }

    /// "PJJ123C" in code set B, worked by hand: values 48, 42, 42, 17, 18, 19, 35 after start
    /// B (104); check (104 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5 + 19·6 + 35·7) mod 103 =
    /// 879 mod 103 = 55.
    #[test]
    fn check_character_of_a_worked_example() {
        let v = values("PJJ123C").expect("encodes");
        assert_eq!(v, vec![104, 48, 42, 42, 17, 18, 19, 35, 55, 106]);
    }

    #[test]
    fn every_symbol_is_eleven_modules_and_the_stop_thirteen() {
        for (i, p) in PATTERNS.iter().enumerate() {
            let sum: u32 = p.bytes().map(|b| u32::from(b - b'0')).sum();
            assert_eq!(sum, if i == STOP { 13 } else { 11 }, "value {i}");
        }
        let mut sorted = PATTERNS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), PATTERNS.len(), "patterns are distinct");
    }

    #[test]
    fn the_svg_decodes_back_to_its_text() {
        for text in [
            "019a7c3e-1b2c-7d00-8000-000000000001",
            "BAG-000042",
            "a",
            "~ !\"<&>",
        ] {
            let svg = svg(text, 2, 60).expect("svg");
            let widths = widths_from_svg(&svg);
            assert_eq!(widths, super::widths(text).expect("widths"), "{text}");
            assert_eq!(decode_widths(&widths).as_deref(), Ok(text), "{text}");
        }
    }

    #[test]
    fn a_damaged_symbol_is_refused() {
        let mut w = widths("BAG-1").expect("widths");
        assert!(decode_widths(&w).is_ok());
        // One symbol character swapped for another valid one: the check character catches it.
        let swapped: Vec<u32> = PATTERNS[40].bytes().map(|b| u32::from(b - b'0')).collect();
        w[6..12].copy_from_slice(&swapped);
        assert!(matches!(decode_widths(&w), Err(Code128Error::Decode(m)) if m.contains("check")));
        assert!(decode_widths(&[1, 2, 3]).is_err());
    }

    #[test]
    fn text_outside_code_set_b_is_refused() {
        assert_eq!(
            values("bag\u{e9}"),
            Err(Code128Error::Character {
                character: '\u{e9}',
                position: 3
            })
        );
        assert_eq!(values(""), Err(Code128Error::Empty));
        assert!(values("tab\there").is_err());
    }
}
