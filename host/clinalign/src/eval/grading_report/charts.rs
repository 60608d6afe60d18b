//! The report's charts as plain SVG markup: horizontal bars with interval whiskers (and an
//! optional faint "could be" bar and a dashed reference line), and a histogram. Every chart
//! is an `<svg data-chart="…">` with a `<title>`; every bar is a `<rect>` with `data-value`
//! (bars also `data-key`, `data-low`, `data-high`, `data-n`; bins `data-low`, `data-high`),
//! so tests and browsers can read the values back.

use super::markup::{data_number, escape, truncate};
use super::summary::Bin;

const WIDTH: f64 = 760.0;
const LABEL_END: f64 = 268.0;
const PLOT_START: f64 = 278.0;
const PLOT_END: f64 = 610.0;
const VALUE_START: f64 = 622.0;
const ROW: f64 = 24.0;
const BAR: f64 = 14.0;
const AXIS: f64 = 30.0;

/// One bar of a [`BarChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The metric it shows (`theme:emergency_referrals`), as `data-key`.
    pub key: String,
    /// What the reader sees on the left.
    pub label: String,
    pub value: f64,
    /// The 95% interval, drawn as a whisker.
    pub interval: Option<(f64, f64)>,
    /// A faint bar behind, from 0: the most the value could have been.
    pub ghost: Option<f64>,
    /// The number of examples (or label pairs) behind it.
    pub n: Option<usize>,
    /// What the reader sees on the right (the value, n).
    pub value_text: String,
    /// The tooltip.
    pub tooltip: String,
}

/// A horizontal bar chart over `domain`.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart<'a> {
    /// The `data-chart` name (and the `id`, `chart-<name>`).
    pub chart: &'a str,
    pub title: &'a str,
    pub domain: (f64, f64),
    pub bars: &'a [Bar],
    /// A dashed vertical line at this value, with its label.
    pub reference: Option<(f64, &'a str)>,
    /// The axis caption under the ticks.
    pub axis_label: &'a str,
}

fn c(x: f64) -> String {
    format!("{x:.1}")
}

/// A tick label: up to three decimals, no trailing zeros, a true minus sign.
fn tick_text(x: f64) -> String {
    let s = format!("{:.3}", x.abs());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    let s = if s.is_empty() { "0" } else { s };
    if x < -1e-12 { format!("\u{2212}{s}") } else { s.to_string() }
}

/// The smallest "nice" number (1, 2, 2.5 or 5 × 10^k) at or above `x` (> 0).
pub fn nice_ceiling(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let base = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * base).find(|v| *v >= x * (1.0 - 1e-12)).unwrap_or(10.0 * base)
}

fn open_svg(out: &mut String, chart: &str, title: &str, height: f64) {
    *out += &format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" id=\"chart-{chart}\" data-chart=\"{chart}\" \
         viewBox=\"0 0 {WIDTH} {h}\" width=\"{WIDTH}\" height=\"{h}\" role=\"img\" \
         aria-labelledby=\"chart-{chart}-title\"><title id=\"chart-{chart}-title\">{t}</title>",
        h = c(height),
        t = escape(title)
    );
}

/// Horizontal bars, one row each, with ticks and gridlines under them.
pub fn bar_chart(spec: &BarChart) -> String {
    let (lo, hi) = spec.domain;
    let x = |v: f64| PLOT_START + (v.clamp(lo, hi) - lo) / (hi - lo) * (PLOT_END - PLOT_START);
    let top = if spec.reference.is_some() { 22.0 } else { 8.0 };
    let bottom = top + ROW * spec.bars.len() as f64;
    let height = bottom + AXIS + 14.0;
    let mut out = String::new();
    open_svg(&mut out, spec.chart, spec.title, height);
    out += "<g class=\"ticks\">";
    for i in 0..=4 {
        let v = lo + (hi - lo) * i as f64 / 4.0;
        out += &format!(
            "<line class=\"grid\" x1=\"{x}\" x2=\"{x}\" y1=\"{top}\" y2=\"{bottom}\"/>\
             <text class=\"tick\" x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\">{t}</text>",
            x = c(x(v)),
            top = c(top),
            bottom = c(bottom),
            ty = c(bottom + 16.0),
            t = tick_text(v)
        );
    }
    out += &format!(
        "<line class=\"axis\" x1=\"{x0}\" x2=\"{x1}\" y1=\"{b}\" y2=\"{b}\"/>\
         <text class=\"caption\" x=\"{mid}\" y=\"{cy}\" text-anchor=\"middle\">{label}</text></g>",
        x0 = c(PLOT_START),
        x1 = c(PLOT_END),
        b = c(bottom),
        mid = c((PLOT_START + PLOT_END) / 2.0),
        cy = c(bottom + AXIS + 8.0),
        label = escape(spec.axis_label)
    );
    if lo < 0.0 && hi > 0.0 {
        out += &format!(
            "<line class=\"axis zero\" x1=\"{z}\" x2=\"{z}\" y1=\"{t}\" y2=\"{b}\"/>",
            z = c(x(0.0)),
            t = c(top),
            b = c(bottom)
        );
    }
    for (i, bar) in spec.bars.iter().enumerate() {
        let y = top + ROW * i as f64 + (ROW - BAR) / 2.0;
        let mid = y + BAR / 2.0;
        out += &format!(
            "<g class=\"row\" data-key=\"{k}\"><title>{tip}</title>\
             <text class=\"label\" x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>",
            k = escape(&bar.key),
            tip = escape(&bar.tooltip),
            lx = c(LABEL_END),
            ty = c(mid + 4.0),
            label = escape(&truncate(&bar.label, 40))
        );
        if let Some(g) = bar.ghost {
            let (a, b) = (x(0.0_f64.min(g)), x(0.0_f64.max(g)));
            out += &format!(
                "<rect class=\"ghost\" x=\"{a}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" data-value=\"{v}\"/>",
                a = c(a),
                y = c(y),
                w = c(b - a),
                h = c(BAR),
                v = data_number(g)
            );
        }
        let (a, b) = (x(0.0_f64.min(bar.value)), x(0.0_f64.max(bar.value)));
        let sign = if bar.value < 0.0 { " neg" } else { "" };
        let mut attrs = format!("data-key=\"{}\" data-value=\"{}\"", escape(&bar.key), data_number(bar.value));
        if let Some((l, h)) = bar.interval {
            attrs += &format!(" data-low=\"{}\" data-high=\"{}\"", data_number(l), data_number(h));
        }
        if let Some(n) = bar.n {
            attrs += &format!(" data-n=\"{n}\"");
        }
        out += &format!(
            "<rect class=\"bar{sign}\" x=\"{a}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" {attrs}/>",
            a = c(a),
            y = c(y),
            w = c((b - a).max(0.0)),
            h = c(BAR)
        );
        if let Some((l, h)) = bar.interval {
            let (xl, xh) = (c(x(l)), c(x(h)));
            out += &format!(
                "<line class=\"whisker\" x1=\"{xl}\" x2=\"{xh}\" y1=\"{m}\" y2=\"{m}\"/>\
                 <line class=\"whisker\" x1=\"{xl}\" x2=\"{xl}\" y1=\"{t}\" y2=\"{b}\"/>\
                 <line class=\"whisker\" x1=\"{xh}\" x2=\"{xh}\" y1=\"{t}\" y2=\"{b}\"/>",
                m = c(mid),
                t = c(mid - 4.0),
                b = c(mid + 4.0)
            );
        }
        out += &format!(
            "<text class=\"value\" x=\"{vx}\" y=\"{ty}\">{t}</text></g>",
            vx = c(VALUE_START),
            ty = c(mid + 4.0),
            t = escape(&bar.value_text)
        );
    }
    if let Some((v, label)) = spec.reference {
        out += &format!(
            "<g class=\"reference-line\" data-value=\"{dv}\"><title>{t}</title>\
             <line class=\"reference\" x1=\"{rx}\" x2=\"{rx}\" y1=\"{y0}\" y2=\"{b}\"/>\
             <text class=\"reference-label\" x=\"{rx}\" y=\"12\" text-anchor=\"middle\">{t}</text></g>",
            dv = data_number(v),
            t = escape(label),
            rx = c(x(v)),
            y0 = c(top - 4.0),
            b = c(bottom)
        );
    }
    out += "</svg>";
    out
}

/// Vertical bars, one per bin, with counts on top, count ticks on the left and bin edges
/// below.
pub fn histogram_chart(chart: &str, title: &str, bins: &[Bin], axis_label: &str) -> String {
    let (x0, x1, top, bottom) = (56.0, WIDTH - 16.0, 18.0, 200.0);
    let height = bottom + 48.0;
    let max = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let step = nice_ceiling(max / 4.0).max(1.0);
    let ymax = (max / step).ceil() * step;
    let y = |v: f64| bottom - v / ymax * (bottom - top);
    let mut out = String::new();
    open_svg(&mut out, chart, title, height);
    out += "<g class=\"ticks\">";
    let mut v = 0.0;
    while v <= ymax + 1e-9 {
        out += &format!(
            "<line class=\"grid\" x1=\"{x0}\" x2=\"{x1}\" y1=\"{yy}\" y2=\"{yy}\"/>\
             <text class=\"tick\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{v}</text>",
            x0 = c(x0),
            x1 = c(x1),
            yy = c(y(v)),
            tx = c(x0 - 6.0),
            ty = c(y(v) + 4.0)
        );
        v += step;
    }
    out += &format!(
        "<line class=\"axis\" x1=\"{x0}\" x2=\"{x1}\" y1=\"{b}\" y2=\"{b}\"/>\
         <text class=\"caption\" x=\"{mid}\" y=\"{cy}\" text-anchor=\"middle\">{label}</text>\
         <text class=\"caption\" x=\"14\" y=\"{my}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {my})\">examples</text></g>",
        x0 = c(x0),
        x1 = c(x1),
        b = c(bottom),
        mid = c((x0 + x1) / 2.0),
        cy = c(bottom + 40.0),
        my = c((top + bottom) / 2.0),
        label = escape(axis_label)
    );
    let slot = (x1 - x0) / bins.len().max(1) as f64;
    for (i, b) in bins.iter().enumerate() {
        let left = x0 + slot * i as f64;
        let yt = y(b.count as f64);
        let edge = if b.high <= 0.0 { "< 0".to_string() } else { tick_text(b.low) };
        let tip = if b.high <= 0.0 {
            format!("{} examples below 0", b.count)
        } else {
            let close = if b.high >= 1.0 { "]" } else { ")" };
            format!("{} examples in [{}, {}{close}", b.count, tick_text(b.low), tick_text(b.high))
        };
        out += &format!(
            "<g class=\"column\"><title>{tip}</title>\
             <rect class=\"bin\" x=\"{x}\" y=\"{yt}\" width=\"{w}\" height=\"{h}\" data-value=\"{n}\" data-low=\"{lo}\" data-high=\"{hi}\"/>",
            x = c(left + 2.0),
            yt = c(yt),
            w = c(slot - 4.0),
            h = c(bottom - yt),
            n = b.count,
            lo = data_number(b.low),
            hi = data_number(b.high)
        );
        if b.count > 0 {
            out += &format!(
                "<text class=\"count\" x=\"{cx}\" y=\"{cy}\" text-anchor=\"middle\">{n}</text>",
                cx = c(left + slot / 2.0),
                cy = c(yt - 4.0),
                n = b.count
            );
        }
        out += &format!(
            "<text class=\"tick\" x=\"{ex}\" y=\"{ey}\" text-anchor=\"middle\">{edge}</text></g>",
            ex = c(if b.high <= 0.0 { left + slot / 2.0 } else { left }),
            ey = c(bottom + 16.0),
            edge = escape(&edge)
        );
    }
    if bins.last().is_some_and(|b| b.high >= 1.0) {
        out += &format!(
            "<text class=\"tick\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">1</text>",
            x = c(x1),
            y = c(bottom + 16.0)
        );
    }
    out += "</svg>";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(key: &str, value: f64) -> Bar {
        Bar {
            key: key.into(),
            label: key.into(),
            value,
            interval: Some((value - 0.1, value + 0.1)),
            ghost: None,
            n: Some(7),
            value_text: format!("{value}"),
            tooltip: key.into(),
        }
    }

    #[test]
    fn bars_carry_their_values_and_intervals() {
        let bars = [bar("theme:a", 0.5), bar("theme:<b>", 0.25)];
        let svg = bar_chart(&BarChart {
            chart: "by-theme",
            title: "Score by theme",
            domain: (0.0, 1.0),
            bars: &bars,
            reference: Some((0.7, "physicians")),
            axis_label: "score",
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(
            svg.contains("data-chart=\"by-theme\"")
                && svg.contains("<title id=\"chart-by-theme-title\">Score by theme</title>")
        );
        assert!(
            svg.contains("data-key=\"theme:a\" data-value=\"0.5\" data-low=\"0.4\" data-high=\"0.6\" data-n=\"7\"")
        );
        assert!(svg.contains("theme:&lt;b&gt;") && !svg.contains("<b>"), "labels are escaped");
        assert!(svg.contains("class=\"reference-line\" data-value=\"0.7\""));
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
    }

    #[test]
    fn negative_bars_grow_left_of_zero() {
        let bars = [bar("p", -0.1), bar("q", 0.2)];
        let svg = bar_chart(&BarChart {
            chart: "principles",
            title: "t",
            domain: (-0.25, 0.25),
            bars: &bars,
            reference: None,
            axis_label: "",
        });
        assert!(svg.contains("class=\"bar neg\" x=\"377.6\""), "{svg}");
        assert!(svg.contains("\u{2212}0.25"), "ticks span the domain");
    }

    #[test]
    fn histogram_bins_carry_counts() {
        let bins = [
            Bin { low: -0.3, high: 0.0, count: 2 },
            Bin { low: 0.0, high: 0.5, count: 5 },
            Bin { low: 0.5, high: 1.0, count: 0 },
        ];
        let svg = histogram_chart("distribution", "Distribution", &bins, "score");
        assert_eq!(svg.matches("class=\"bin\"").count(), 3);
        assert!(svg.contains("data-value=\"5\" data-low=\"0\" data-high=\"0.5\""));
        assert!(svg.contains("&lt; 0"));
    }

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_ceiling(0.18), 0.2);
        assert_eq!(nice_ceiling(0.21), 0.25);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(tick_text(0.250), "0.25");
        assert_eq!(tick_text(0.0), "0");
    }
}
